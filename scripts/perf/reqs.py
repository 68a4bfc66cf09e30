# reqs.py PORT PATH N [gzip]: N keep-alive GETs as a returning visitor (cookie from the first).
import http.client, sys
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
gz = len(sys.argv) > 4
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("GET", path); r = c.getresponse(); r.read()
cookie = "; ".join(h.split(";")[0] for k, h in r.getheaders() if k.lower() == "set-cookie")
hdr = {"Cookie": cookie, "User-Agent": "Mozilla/5.0", "Accept": "text/html"}
if gz: hdr["Accept-Encoding"] = "gzip, deflate, br, zstd"
for _ in range(n):
    c.request("GET", path, headers=hdr); r = c.getresponse(); b = r.read()
    assert r.status == 200, r.status
print(len(b))
