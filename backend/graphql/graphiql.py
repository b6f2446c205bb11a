"""GraphiQL, the in-browser IDE of development mode, served from this server's own files.

Strawberry's page loads GraphiQL and React from a CDN, so without internet it shows
"Loading..." forever; here they come from ``static/graphiql`` (npm's graphiql 3.8.3 and React
18's UMD builds, unchanged, with their licences and NOTICE), under a Content-Security-Policy
that allows this origin alone. The page opens with the README's example operations as tabs and
a field for the access token, sent with every operation (``static/graphiql/eic-graphiql.js``).
Only development mode serves it (``EIC_ENVIRONMENT=development``), like Strawberry's.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static" / "graphiql"
# Where the files are served; outside /graphql, whose middleware is for GraphQL requests.
ASSETS_PATH = "/graphiql"

# The README's "Try:" operations, a tab each (tests/graphql/test_graphiql.py holds them to it).
SIGN_IN = """mutation { tokenCreate(input: {email: "katsuyama-pellets@demo.eic.example", password: "eic-demo-2026"}) {
  accessToken refreshToken expiresAt role errors { code message field } } }"""  # noqa: E501 - the README's text
CLUSTERS = """query { clusters { totalCount edges { node { id name sector centre { lat lon } currency } } } }"""  # noqa: E501
ME = """query { me { user { email } organisation { name } role } }"""
EXAMPLES = (SIGN_IN, CLUSTERS, ME)

# Only this origin: scripts and stylesheets from our files (nothing inline: the configuration is
# a JSON data block, which is not run), GraphQL over HTTP and WebSocket to this server ('self'
# covers ws: and wss: of the same host), the fonts GraphiQL's stylesheet embeds as data: URLs.
# GraphiQL sets element styles through the DOM, which a policy does not restrict; the <style>
# element its dialogs add to lock the page's scrolling is refused (the page does not scroll).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")
_STYLES = ("graphiql.min.css", "eic-graphiql.css")


def page(request: Request) -> HTMLResponse:
    """The GraphiQL page for the GraphQL endpoint at the request's path."""
    root = request.scope.get("root_path", "").rstrip("/")
    assets = f"{root}{ASSETS_PATH}"
    config = {
        "endpoint": request.url.path,
        "tabs": [{"query": query} for query in EXAMPLES],
    }
    # "</" could end the data block early; JSON lets it be written "<\/".
    config_json = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    styles = "\n".join(
        f'<link rel="stylesheet" href="{html.escape(assets)}/{name}">' for name in _STYLES
    )
    scripts = "\n".join(
        f'<script src="{html.escape(assets)}/{name}"></script>'
        for name in (*_SCRIPTS, "eic-graphiql.js")
    )
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EIC GraphiQL</title>
<link rel="icon" href="data:,">
{styles}
</head>
<body>
<div id="graphiql">Loading…</div>
<script id="eic-graphiql-config" type="application/json">{config_json}</script>
{scripts}
</body>
</html>
"""
    return HTMLResponse(
        body,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


def assets() -> StaticFiles:
    """The page's files (GraphiQL, React, EIC's script and stylesheet), for ``app.mount``."""
    return StaticFiles(directory=STATIC)
