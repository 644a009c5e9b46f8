"""The qsh module against the 71 public vectors and, on generated URLs, against atlassian-jwt."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from atlassian_jwt.url_utils import canonicalize_request
from hypothesis import given, settings
from hypothesis import strategies as st

from app.connect.qsh import (
    CONTEXT_QSH,
    canonical_request,
    canonical_uri,
    parse_query,
    query_string_hash,
    query_string_hash_for_url,
)
from tests.kit.qsh_vectors import load_qsh_vectors

VECTORS = load_qsh_vectors()


def test_all_71_vectors_are_loaded() -> None:
    assert len(VECTORS) == 71


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_canonical_request_and_qsh(vector: dict[str, Any]) -> None:
    parts = urlsplit(vector["url"])
    base_path = urlsplit(vector["base_url"]).path
    assert canonical_request(vector["method"], parts.path, parts.query, base_path) == vector["canonical"]
    assert query_string_hash_for_url(vector["method"], vector["url"], vector["base_url"]) == vector["qsh"]


def _sha256_of_canonical(method: str, path: str, query: str, base_path: str = "") -> str:
    return hashlib.sha256(canonical_request(method, path, query, base_path).encode("utf-8")).hexdigest()


@pytest.mark.parametrize("repeat", [1, 2])
@pytest.mark.parametrize("vector", VECTORS[:20], ids=[v["name"] for v in VECTORS[:20]])
def test_the_kept_hashes_are_the_hashes(vector: dict[str, Any], repeat: int) -> None:
    # Recent hashes are kept (query_string_hash_of_params): a second call must give the vector again.
    for _ in range(repeat):
        assert query_string_hash_for_url(vector["method"], vector["url"], vector["base_url"]) == vector["qsh"]


def test_kept_hashes_tell_apart_method_path_base_and_fields_and_long_requests_are_hashed() -> None:
    query = "a=1&b=x%20y&jwt=abc"
    seen = {
        query_string_hash("GET", "/p", query),
        query_string_hash("POST", "/p", query),
        query_string_hash("GET", "/q", query),
        query_string_hash("GET", "/wiki/p", query, "/wiki/x"),
        query_string_hash("GET", "/p", query.replace("a=1", "a=2")),
    }
    assert len(seen) == 5
    assert query_string_hash("GET", "/p", query) == _sha256_of_canonical("GET", "/p", query)
    long_query = "a=" + "v" * 3000 + "&jwt=abc"  # past the memo's bound: hashed every time
    for _ in range(2):
        assert query_string_hash("GET", "/p", long_query) == _sha256_of_canonical("GET", "/p", long_query)


def test_context_qsh_is_the_literal_atlassian_defines() -> None:
    assert CONTEXT_QSH == "context-qsh"


def test_confluence_context_path_is_stripped_but_only_as_a_whole_segment() -> None:
    assert canonical_uri("/wiki/api/v2/pages", "/wiki") == "/api/v2/pages"
    assert canonical_uri("/wiki", "/wiki") == "/"
    assert canonical_uri("/wikipedia/x", "/wiki") == "/wikipedia/x"


def test_jwt_parameter_is_excluded_but_similar_names_are_not() -> None:
    with_jwt = query_string_hash("GET", "/p", "a=1&jwt=abc")
    assert with_jwt == query_string_hash("GET", "/p", "a=1")
    assert query_string_hash("GET", "/p", "a=1&JWT=abc") != with_jwt


def test_method_is_upper_cased() -> None:
    assert canonical_request("post", "/p") == "POST&/p&"


# --- Differential test against Atlassian's Python package -------------------------------------
# Known, documented differences (docs/qsh.md): atlassian-jwt strips *every* leading and trailing
# slash, parses the path with urlparse (so "a:b" reads as a scheme and an empty ";" path parameter
# vanishes), and it has no notion of a context path. The generators below stay inside the space
# where both claim the same behaviour.

_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/?#:%;", exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=8,
)
_param_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
_params = st.lists(st.tuples(_param_text.filter(lambda s: s != "jwt"), _param_text), max_size=6)


def _raw_path(segments: list[str]) -> str:
    return "/" + "/".join(quote(seg, safe="!$&'()*+,;=@-._~") for seg in segments)


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    segments=st.lists(_segment, min_size=1, max_size=4),
    params=_params,
)
def test_agrees_with_atlassian_jwt_on_generated_urls(
    method: str, segments: list[str], params: list[tuple[str, str]]
) -> None:
    path = _raw_path(segments)
    query = urlencode(params)
    url = f"{path}?{query}" if query else path
    assert canonical_request(method, path, query) == canonicalize_request(method, url)


@settings(max_examples=200, deadline=None)
@given(segments=st.lists(_segment, min_size=1, max_size=3), params=_params)
def test_context_path_is_invisible_to_the_hash(segments: list[str], params: list[tuple[str, str]]) -> None:
    path = _raw_path(segments)
    query = urlencode(params)
    assert query_string_hash("GET", "/wiki" + path, query, "/wiki") == query_string_hash("GET", path, query)


def test_known_difference_empty_path_parameter_is_kept_verbatim() -> None:
    # The spec hashes the path as sent; atlassian-jwt's urlparse drops a trailing ";" (docs/qsh.md).
    assert canonical_request("GET", "/a;") == "GET&/a;&"
    assert canonicalize_request("GET", "/a;") == "GET&/a&"


def test_known_difference_all_slashes_are_not_stripped() -> None:
    # The vectors strip exactly one trailing "/"; atlassian-jwt strips them all.
    assert canonical_request("GET", "/a//") == "GET&/a/&"
    assert canonicalize_request("GET", "/a//") == "GET&/a&"


_QUERY_TEXT = st.text(alphabet=st.sampled_from("&=+%;ab09AFfz é\u00ff\ufffd/?#"), max_size=60) | st.text(
    max_size=40
)


@settings(max_examples=500, deadline=None)
@given(_QUERY_TEXT)
def test_parse_query_gives_the_pairs_parse_qsl_gives(query: str) -> None:
    # Every token's query is parsed by parse_query (the qsh, request.args): it must decode exactly as
    # the standard library's form decoder with blank values kept, on any text a server can pass.
    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)


@pytest.mark.parametrize(
    "query",
    ["", "&&", "a", "a=", "=b", "a=b=c", "a+b=c+d", "a%2Bb=%2B", "x=%zz%4", "x=%C3%A9%FF", "a=1&a=2&&b"],
)
def test_parse_query_agrees_with_parse_qsl_on_edge_cases(query: str) -> None:
    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)


def test_decoded_fields_are_the_same_from_the_memo_and_past_its_length_bound() -> None:
    # Short fields are decoded once and then reused; long ones are decoded each time.
    long_value = "%C3%A9" * 100 + "+x"  # 602 characters, past the memo's bound
    query = f"xdm_e=http%3A%2F%2Fh&n%61me=%E2%9C%93&long={long_value}&{'k%6' + '1' * 300}=v"
    expected = parse_qsl(query, keep_blank_values=True)
    assert parse_query(query) == expected
    assert parse_query(query) == expected  # now from the memo where short
    assert ("long", "é" * 100 + " x") in expected
