"""`ponder serve`: an OpenAI-compatible reasoning server.

`reasoning_effort` (or a request's own `ponder` object) picks a test-time strategy, a budget and
a thinking-token budget (search/effort.py); the search runs on the served model through a
batcher that merges concurrent requests' generator calls; the chosen trace comes back as
`reasoning` + `content` with usage and the search's cost. Modules: schema (request checks),
plan (effort -> strategy), engine (model side), batcher, reply (OpenAI JSON), metrics, app
(ASGI routes, auth, limits), cli. Needs the `serve` extra (starlette, uvicorn). See docs/serve.md.
"""
