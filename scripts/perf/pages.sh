#!/usr/bin/env bash
# pages.sh BIN SECS PATH...: wrk -t2 -c64 on the store (gzip|plain x new|returning), then nginx serving the same bytes
. $(dirname "${BASH_SOURCE[0]}")/common.sh
BIN=$1 SECS=$2; shift 2
dir=$(mktemp -d /tmp/pages.XXXX)
start_store "$BIN" 4502 "$dir" || exit 1
curl -s -c $dir/jar -o /dev/null localhost:4502/
cookie=$(awk '!/^#/ && NF>=7 {printf "%s=%s; ", $6, $7}' $dir/jar)
cookie=${cookie#\#HttpOnly_}
cookie=$(awk '{sub(/^#HttpOnly_/,"",$1)} !/^# / && NF>=7 {printf "%s=%s; ", $6, $7}' $dir/jar)
AE='Accept-Encoding: gzip, deflate, br, zstd'
rps() { wrk -t2 -c64 -d${SECS}s "$@" 2>&1 | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "NON2XX", $0}' | tr '\n' ' '; }
chmod 755 $dir; mkdir -p $dir/www
for p in "$@"; do
  f=$dir/www/$(echo $p | tr / _).html
  curl -s -b "$cookie" localhost:4502$p -o $f
  echo "$p ($(wc -c <$f) bytes; gzip from store $(curl -s -H "$AE" -b "$cookie" localhost:4502$p | wc -c) bytes)"
  echo "  store gzip new       $(rps -H "$AE" http://127.0.0.1:4502$p)"
  echo "  store gzip returning $(rps -H "$AE" -H "Cookie: $cookie" http://127.0.0.1:4502$p)"
  echo "  store plain new       $(rps http://127.0.0.1:4502$p)"
  echo "  store plain returning $(rps -H "Cookie: $cookie" http://127.0.0.1:4502$p)"
done
kill $SPID; wait $SPID 2>/dev/null
for gz in on off; do
cat > $dir/nginx.conf <<NG
worker_processes 2; pid $dir/nginx.pid; error_log $dir/nginx.err; daemon off;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000; default_type text/html;
  gzip $gz; gzip_comp_level 1; gzip_min_length 256;
  server { listen 127.0.0.1:4600; root $dir/www; } }
NG
nginx -c $dir/nginx.conf & NG=$!; sleep 0.5
for p in "$@"; do f=$(echo $p | tr / _).html; echo "  nginx gzip $gz $p $(rps -H "$AE" http://127.0.0.1:4600/$f)"; done
kill $NG; wait $NG 2>/dev/null
done
rm -rf $dir
