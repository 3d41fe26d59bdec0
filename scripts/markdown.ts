/** Markdown as GitHub renders it, for the generated docs and the tests that check links into them. */

/** A heading's anchor: lower case, punctuation but `-` and `_` dropped, each space a `-`. */
export function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a document's headings (outside code blocks). */
export function headingAnchors(markdown: string): Set<string> {
  const headings = withoutCode(markdown).matchAll(/^#{1,6} +(.+)$/gm);
  return new Set([...headings].map((match) => anchor(match[1] ?? "")));
}

/** The document without its fenced code blocks and inline code, where brackets are not links. */
export function withoutCode(markdown: string): string {
  // \x60 is the backtick: written out, it reads as a template string to tools that skim the source.
  return markdown
    .replace(/^\x60{3}[\s\S]*?^\x60{3}$/gm, "")
    .replace(/\x60[^\x60\n]*\x60/g, (code) => code.replace(/[[\]()]/g, " "));
}
