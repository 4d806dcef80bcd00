-- One fixed request, described by the environment (BENCH_METHOD, BENCH_BODY, BENCH_HEADERS).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.body = os.getenv("BENCH_BODY")
