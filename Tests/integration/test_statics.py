"""public/** served by the front before the app (issue 3, item 5): content
type, the default Cache-Control, ETag / Last-Modified with 304, HEAD, single
ranges (206 / 416), index.html for directories, and no way out of public/
(`..`, encoded `%2e%2e`, symlinks, NUL), sent on raw sockets so no client
normalises the path first."""

import os

import pytest
import requests

from conftest import APPS, Tidepool, json_of, prepare_project, raw_request

pytestmark = pytest.mark.timeout(60)

HELLO = (APPS / "statics" / "public" / "hello.txt").read_bytes()
SECRET = b"SECRET-OUTSIDE-PUBLIC"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("statics")
    project = prepare_project("statics", tmp)
    public = project / "public"
    # Made here, not in the fixture tree: copytree would copy their targets.
    (public / "link-out.txt").symlink_to(project / "secret.txt")
    (public / "link-dir").symlink_to(project, target_is_directory=True)
    (public / "alias.txt").symlink_to("hello.txt")
    server = Tidepool(project, tmp / "logs", instances=1).wait_ready()
    yield server
    server.stop()


def raw_get(server, target: bytes):
    return raw_request(server.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")


def test_file_with_type_cache_control_and_validators(server):
    r = server.get("/hello.txt")
    assert r.status_code == 200
    assert r.content == HELLO
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=0, must-revalidate"
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    assert r.headers["last-modified"].endswith(" GMT")
    assert r.headers["accept-ranges"] == "bytes"
    assert int(r.headers["content-length"]) == len(HELLO)


def test_nested_file_and_json_type(server):
    r = server.get("/sub/data.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"ok": True}


def test_head_has_headers_and_no_body(server):
    get = server.get("/hello.txt")
    r = server.request("HEAD", "/hello.txt")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) == len(HELLO)
    assert r.headers["etag"] == get.headers["etag"]


def test_if_none_match_gives_304(server):
    etag = server.get("/hello.txt").headers["etag"]
    r = server.get("/hello.txt", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == etag
    assert server.get("/hello.txt", headers={"If-None-Match": '"stale"'}).status_code == 200
    assert server.request("HEAD", "/hello.txt", headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304


def test_if_modified_since_gives_304(server):
    modified = server.get("/hello.txt").headers["last-modified"]
    r = server.get("/hello.txt", headers={"If-Modified-Since": modified})
    assert r.status_code == 304 and r.content == b""
    old = "Thu, 01 Jan 1970 00:00:00 GMT"
    assert server.get("/hello.txt", headers={"If-Modified-Since": old}).status_code == 200


def test_changed_file_gets_a_new_etag(server):
    path = server.project / "public" / "changing.txt"
    path.write_bytes(b"one")
    first = server.get("/changing.txt")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    path.write_bytes(b"two!")
    second = server.get("/changing.txt", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.content == b"two!"
    assert second.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize("spec, first, last", [("bytes=0-4", 0, 4), ("bytes=6-", 6, None), ("bytes=-5", None, None)])
def test_single_range_gives_206(server, spec, first, last):
    size = len(HELLO)
    if first is None:
        first, last = size - 5, size - 1
    if last is None:
        last = size - 1
    r = server.get("/hello.txt", headers={"Range": spec})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert r.content == HELLO[first:last + 1]
    assert int(r.headers["content-length"]) == last - first + 1


def test_range_past_the_end_gives_416(server):
    r = server.get("/hello.txt", headers={"Range": f"bytes={len(HELLO)}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(HELLO)}"


def test_multiple_ranges_and_bad_ranges_give_the_whole_file(server):
    for spec in ("bytes=0-1,4-5", "bytes=9-2", "lines=1-2"):
        r = server.get("/hello.txt", headers={"Range": spec})
        assert r.status_code == 200 and r.content == HELLO, spec


def test_stale_if_range_gives_the_whole_file(server):
    r = server.get("/hello.txt", headers={"Range": "bytes=0-4", "If-Range": '"stale"'})
    assert r.status_code == 200 and r.content == HELLO
    etag = server.get("/hello.txt").headers["etag"]
    assert server.get("/hello.txt", headers={"Range": "bytes=0-4", "If-Range": etag}).status_code == 206


def test_directory_serves_its_index_html(server):
    index = (APPS / "statics" / "public" / "docs" / "index.html").read_bytes()
    for path in ("/docs/", "/docs"):
        r = server.get(path, allow_redirects=False)
        assert r.status_code == 200, path
        assert r.content == index and r.headers["content-type"].startswith("text/html")


def test_directory_without_index_and_missing_files_go_to_the_app(server):
    for path in ("/sub/", "/nope.txt", "/"):
        r = server.get(path)
        assert json_of(r)["app"] == "echo", path


def test_post_to_a_static_path_goes_to_the_app(server):
    r = server.request("POST", "/hello.txt", data=b"x")
    assert json_of(r)["method"] == "POST"


def test_symlink_inside_public_is_served(server):
    r = server.get("/alias.txt")
    assert r.status_code == 200 and r.content == HELLO


@pytest.mark.parametrize("target", [
    b"/../secret.txt",
    b"/docs/../../secret.txt",
    b"/%2e%2e/secret.txt",
    b"/%2E%2E/secret.txt",
    b"/docs/%2e%2e/%2e%2e/secret.txt",
    b"/docs/..%2f..%2fsecret.txt",
    b"/..%2fsecret.txt",
    b"/link-out.txt",
    b"/link-dir/secret.txt",
    b"/hello.txt%00.png",
    b"/%00/../secret.txt",
    b"//secret.txt",
    b"/./../secret.txt",
])
def test_nothing_outside_public_is_ever_read(server, target):
    status, headers, body = raw_get(server, target)
    assert SECRET not in body, (target, status)
    served_statically = dict((k.lower(), v) for k, v in headers).get("accept-ranges") == "bytes"
    assert not served_statically, (target, status, body[:200])

