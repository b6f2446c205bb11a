// EIC's GraphiQL page (backend/graphql/graphiql.py): GraphiQL from this server's own files, the
// README's example operations as tabs, and an access-token field whose token every request
// (HTTP and the WebSocket of subscriptions) carries as "Authorization: Bearer <token>".
// Loaded as a file, not inline, so the page's Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var h = React.createElement;
  var config = JSON.parse(document.getElementById("eic-graphiql-config").textContent);
  var TOKEN_KEY = "eic-graphiql:access-token";
  var endpoint = new URL(config.endpoint, window.location.href);
  var socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  var token = { value: window.sessionStorage.getItem(TOKEN_KEY) || "" };
  var listeners = [];
  function setToken(value) {
    token.value = value.trim();
    window.sessionStorage.setItem(TOKEN_KEY, token.value);
    listeners.forEach(function (listener) { listener(token.value); });
  }

  // A token from tokenCreate or tokenRefresh goes into the field by itself: sign in with the
  // first tab, then run the others as that person.
  function keepSignedInToken(response) {
    response.clone().json().then(function (body) {
      var data = (body && body.data) || {};
      var payload = data.tokenCreate || data.tokenRefresh;
      if (payload && payload.accessToken) setToken(payload.accessToken);
    }).catch(function () {});
    return response;
  }

  var base = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: socket.href,
    fetch: function (input, init) { return window.fetch(input, init).then(keepSignedInToken); },
  });

  // Every operation carries the token: GraphiQL hands these headers to HTTP requests, and to a
  // subscription's connection_init payload (the server reads "Authorization" there too). The
  // headers editor wins: an operation that names its own Authorization keeps it.
  function fetcher(params, options) {
    options = options || {};
    var headers = Object.assign({}, options.headers || {});
    var named = Object.keys(headers).some(function (k) { return k.toLowerCase() === "authorization"; });
    if (token.value && !named) headers.Authorization = "Bearer " + token.value;
    return base(params, Object.assign({}, options, { headers: headers }));
  }

  function TokenField() {
    var state = React.useState(token.value);
    React.useEffect(function () {
      listeners.push(state[1]);
      return function () { listeners.splice(listeners.indexOf(state[1]), 1); };
    }, []);
    return h("form", { className: "eic-token", onSubmit: function (e) { e.preventDefault(); } },
      h("label", { htmlFor: "eic-access-token" }, "Access token"),
      h("input", {
        id: "eic-access-token",
        type: "text",
        spellCheck: false,
        autoComplete: "off",
        placeholder: "accessToken of tokenCreate (run the first tab); sent as Authorization: Bearer …",
        value: state[0],
        onChange: function (e) { setToken(e.target.value); },
      }),
      h("button", { type: "button", onClick: function () { setToken(""); } }, "Sign out")
    );
  }

  function Page() {
    return h("div", { className: "eic-page" },
      h(TokenField),
      h("div", { className: "eic-graphiql" },
        h(GraphiQL, {
          fetcher: fetcher,
          defaultTabs: config.tabs,
          defaultEditorToolsVisibility: true,
          isHeadersEditorEnabled: true,
          shouldPersistHeaders: false,
          inputValueDeprecation: true,
        })
      )
    );
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(h(Page));
})();
