// The explorer page's one script, run by the browser (the service serves it; see assets.ts). It reads
// the page's settings and starts either Apollo Sandbox, from Apollo's CDN, or the built-in GraphiQL,
// from this service's own files. GraphiQL is also the fallback when the CDN cannot be reached: its
// script fails to load, or has not loaded within the settings' timeout (a black-holed connection
// neither loads nor fails for minutes). A browser module (the page loads it with type="module"; the
// build copies it to dist/ through tsc, which may add `export {}`), with no inline code anywhere, so
// the page's Content-Security-Policy needs no 'unsafe-inline' and no 'unsafe-eval'.
const settings = JSON.parse(document.getElementById("explorer-settings").textContent);
const root = document.getElementById("explorer");
// The page's own URL without its query: this service's GraphQL endpoint, whatever path a proxy gives it.
const endpoint = new URL(location.pathname, location.href).href;
let started = false;

/** Adds a script or stylesheet to the page; resolves once loaded, rejects if it cannot be. */
const load = (tag, attributes) =>
  new Promise((resolve, reject) => {
    const element = document.createElement(tag);
    element.addEventListener("load", resolve);
    element.addEventListener("error", () =>
      reject(new Error(`cannot load ${attributes.src ?? attributes.href}`)),
    );
    Object.assign(element, attributes);
    document.head.append(element);
  });

/**
 * What GraphiQL remembers between visits (tabs, queries, variables), kept in this tab's memory only:
 * the variables hold a clientSecret, which must not be written to the browser's storage on disk.
 */
const memoryStorage = () => {
  const items = new Map();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
    clear: () => items.clear(),
    get length() {
      return items.size;
    },
  };
};

const fetcher = async (params) => {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(params),
    credentials: "omit",
  });
  return response.json();
};

const startGraphiQL = async (fallbackReason) => {
  if (started) return;
  started = true;
  root.dataset.explorer = "graphiql";
  if (fallbackReason !== undefined) root.dataset.fallback = fallbackReason;
  const { assets } = settings;
  await Promise.all([
    load("link", { rel: "stylesheet", href: assets.graphiqlCss }),
    load("script", { src: assets.react }),
  ]);
  await load("script", { src: assets.reactDom });
  await load("script", { src: assets.graphiql });
  root.replaceChildren();
  window.ReactDOM.createRoot(root).render(
    window.React.createElement(window.GraphiQL, {
      fetcher,
      storage: memoryStorage(),
      defaultQuery: settings.document,
      variables: settings.variables,
      defaultEditorToolsVisibility: "variables",
      isHeadersEditorEnabled: false,
    }),
  );
  root.dataset.state = "ready";
};

const fail = (error) => {
  root.dataset.state = "failed";
  root.textContent = `The explorer could not start (${error.message}). GraphQL is served at ${endpoint}.`;
};
const fallBack = (reason) => startGraphiQL(reason).catch(fail);

const startSandbox = () => {
  const { sandbox } = settings;
  const timer = setTimeout(() => fallBack("timeout"), sandbox.timeoutMs);
  load("script", { src: sandbox.script }).then(
    () => {
      clearTimeout(timer);
      if (started) return;
      started = true;
      root.dataset.explorer = "sandbox";
      root.replaceChildren();
      new window.EmbeddedSandbox({
        target: "#explorer",
        initialEndpoint: endpoint,
        endpointIsEditable: false,
        initialState: {
          document: settings.document,
          variables: JSON.parse(settings.variables),
          includeCookies: false,
        },
        hideCookieToggle: true,
        runTelemetry: false,
        allowDynamicStyles: false,
      });
      root.dataset.state = "ready";
    },
    () => {
      clearTimeout(timer);
      fallBack("unreachable");
    },
  );
};

try {
  if (settings.explorer === "sandbox") startSandbox();
  else startGraphiQL().catch(fail);
} catch (error) {
  fail(error);
}
