"""vercel.json in the request path (issue 3, item 6), end to end, in Vercel's
order: cleanUrls / trailingSlash → redirects → headers → public/ → rewrites →
app. Plus the start-time checks: unknown keys warned once, broken files stop
the start with file, path and reason."""

import subprocess

import pytest
import requests

from conftest import APPS, BINARY, Tidepool, json_of, prepare_project

pytestmark = pytest.mark.timeout(60)

PUBLIC = APPS / "vercel_routing" / "public"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vercel-routing")
    server = Tidepool(prepare_project("vercel_routing", tmp), tmp / "logs", instances=1).wait_ready()
    yield server
    server.stop()


def get(server, path, **kw):
    kw.setdefault("allow_redirects", False)
    return server.get(path, **kw)


# --- redirects -------------------------------------------------------------

def test_redirect_permanent_by_default_with_params_and_query(server):
    r = get(server, "/old/hello?x=1&y=2")
    assert r.status_code == 308
    assert r.headers["location"] == "/new/hello?x=1&y=2"


def test_redirect_permanent_false_is_307(server):
    r = get(server, "/temp")
    assert r.status_code == 307 and r.headers["location"] == "/elsewhere"


def test_redirect_status_code(server):
    r = get(server, "/moved")
    assert r.status_code == 301 and r.headers["location"] == "https://example.com/"


def test_redirect_has_query(server):
    r = get(server, "/beta?flag=on")
    assert r.status_code == 308 and r.headers["location"] == "/beta-on?flag=on"
    assert json_of(get(server, "/beta?flag=off"))["path"] == "/beta"


def test_redirect_wins_over_a_public_file(server):
    # public/landing.html would serve /landing (cleanUrls), but redirects come first.
    r = get(server, "/landing")
    assert r.status_code == 308 and r.headers["location"] == "/never"


def test_redirects_do_not_get_rule_headers(server):
    assert "x-frame-options" not in get(server, "/temp").headers


# --- headers ---------------------------------------------------------------

def test_headers_on_app_and_static_responses(server):
    assert get(server, "/anything").headers["x-frame-options"] == "DENY"
    assert get(server, "/about").headers["x-frame-options"] == "DENY"


def test_app_header_wins_over_rule_header(server):
    r = get(server, "/anything?set_frame_options=1")
    assert r.headers["x-frame-options"] == "SAMEORIGIN"  # one value, the app's


def test_headers_has_and_missing(server):
    r = get(server, "/api/a/b", headers={"x-debug": "1"})
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-api-path"] == "a/b"
    r = get(server, "/api/a/b?nocache=1", headers={"x-debug": "1"})
    assert "x-api-path" not in r.headers
    assert "x-api-path" not in get(server, "/api/a/b").headers


def test_headers_replace_the_static_default_cache_control(server):
    r = get(server, "/assets/app.css")
    assert r.status_code == 200 and r.content == (PUBLIC / "assets" / "app.css").read_bytes()
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"].startswith("text/css")


def test_headers_has_host(server):
    assert get(server, "/hosted", headers={"Host": "app.example.com"}).headers["x-host-rule"] == "yes"
    assert "x-host-rule" not in get(server, "/hosted").headers


# --- filesystem, rewrites ----------------------------------------------------

def test_public_file_wins_over_a_rewrite(server):
    r = get(server, "/assets/app.css")
    assert r.content == (PUBLIC / "assets" / "app.css").read_bytes()


def test_rewrite_to_a_static_file(server):
    r = get(server, "/home")
    assert r.status_code == 200 and r.content == (PUBLIC / "landing.html").read_bytes()


def test_rewrite_into_the_app_with_params(server):
    data = json_of(get(server, "/blog/hello-world?ref=x"))
    assert data["path"] == "/api/posts/hello-world"
    assert data["query"] == "ref=x"


def test_rewrite_unused_params_become_query(server):
    data = json_of(get(server, "/resize/800/600"))
    assert data["path"] == "/api/sharp"
    assert sorted(data["query"].split("&")) == ["h=600", "w=800"]


def test_no_rule_the_app_sees_the_target_unchanged(server):
    data = json_of(get(server, "/some/where?a=1&a=2"))
    assert data["path"] == "/some/where" and data["query"] == "a=1&a=2"


# --- cleanUrls, trailingSlash ------------------------------------------------

def test_clean_urls_serve_html_without_extension(server):
    r = get(server, "/about")
    assert r.status_code == 200 and r.content == (PUBLIC / "about.html").read_bytes()


def test_clean_urls_redirect_html_and_index(server):
    r = get(server, "/about.html?x=1")
    assert r.status_code == 308 and r.headers["location"] == "/about?x=1"
    r = get(server, "/docs/index.html")
    assert r.status_code == 308 and r.headers["location"] == "/docs"
    r = get(server, "/docs")
    assert r.status_code == 200 and r.content == (PUBLIC / "docs" / "index.html").read_bytes()


def test_trailing_slash_false_removes_it(server):
    r = get(server, "/about/")
    assert r.status_code == 308 and r.headers["location"] == "/about"
    r = get(server, "/api/x/?q=1")
    assert r.status_code == 308 and r.headers["location"] == "/api/x?q=1"


def test_following_redirects_ends_at_the_page(server):
    r = server.get("/about.html/")
    assert r.status_code == 200 and r.content == (PUBLIC / "about.html").read_bytes()


# --- start-time checks -------------------------------------------------------

def test_unknown_key_is_warned_once(server):
    assert server.stderr().count("experimentalThing") == 1


@pytest.mark.parametrize("text, expected", [
    ('{"cleanUrls": tru', ["vercel.json", "not valid JSON"]),
    ('{"redirects": [{"source": "/a", "destination": 5}]}', ["vercel.json", "redirects[0].destination"]),
    ('{"trailingSlash": "yes"}', ["vercel.json", "trailingSlash"]),
    ('{"headers": [{"source": "/(", "headers": []}]}', ["vercel.json", "headers[0].source"]),
])
def test_broken_vercel_json_stops_the_start(tmp_path, text, expected):
    project = prepare_project("vercel_routing", tmp_path)
    (project / "vercel.json").write_text(text)
    result = subprocess.run(
        [str(BINARY), "serve", str(project), "--host", "127.0.0.1", "--port", "1"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    for part in expected:
        assert part in result.stderr, result.stderr[-2000:]
