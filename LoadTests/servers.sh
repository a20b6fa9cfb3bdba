# The servers the benchmarks compare, as command lines, one definition for
# bench-peers and cpu-per-request. Sourced; needs APP_DIR, and TIDEPOOL_ARGS
# plus TIDEPOOL_BINARY (default .build/release/tidepool) for tidepool.

SERVER_NAMES="gunicorn-gthread gunicorn-sync granian tidepool"

server_command() { # NAME PORT -> the command line
    local name=$1 port=$2 venv=$PWD/.venv-bench/bin
    case "$name" in
        gunicorn-gthread) echo "$venv/gunicorn -w 2 --threads 8 -b 127.0.0.1:$port --chdir $APP_DIR main:app" ;;
        gunicorn-sync) echo "$venv/gunicorn -w 2 -b 127.0.0.1:$port --chdir $APP_DIR main:app" ;;
        granian) echo "$venv/granian --interface wsgi --workers 2 --host 127.0.0.1 --port $port --working-dir $APP_DIR main:app" ;;
        tidepool) echo "${TIDEPOOL_BINARY:-.build/release/tidepool} serve $APP_DIR --host 127.0.0.1 --port $port $TIDEPOOL_ARGS" ;;
        *) echo "unknown server: $name (one of: $SERVER_NAMES)" >&2; return 1 ;;
    esac
}
