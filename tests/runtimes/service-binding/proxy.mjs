// The bound service: forwards token requests to the mock Avito and marks them, so the test can
// tell that they came through the binding (not through the global fetch).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = new Request(env.UPSTREAM + url.pathname, request);
    upstream.headers.set("x-via-binding", "1");
    return fetch(upstream);
  },
};
