/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile> [rows]`: self time by package and by function
 * of a profile written by `node --cpu-prof` (BENCH_PROFILE=... npm run bench writes them).
 */
import { formatSummary, summarizeProfile } from "./lib/cpu-profile.js";

const [file, rows] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write("usage: tsx bench/profile-summary.ts <file.cpuprofile> [rows]\n");
  process.exit(2);
}
process.stdout.write(
  `${formatSummary(file, summarizeProfile(file, rows === undefined ? 25 : Number(rows)))}\n`,
);
