"""gate.web.navigation: the office menu in groups, each shown only with links its user may open."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from web_helpers import DemoSite, demo_site, log_in

from gate.accounts.models import Role
from gate.web.navigation import NAV_GROUPS, NAV_ITEMS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    demo = demo_site(tmp_path_factory.mktemp("navigation"))
    try:
        yield demo
    finally:
        demo.app.extensions["checkpoint"].engine.dispose()


def _groups(html: str) -> list[tuple[str, list[str]]]:
    """The menu's groups as rendered: (aria-label, link texts)."""
    nav = html.split('<nav class="topbar-nav"', 1)[1].split("</nav>", 1)[0]
    found = re.findall(r'<ul class="nav-group" aria-label="([^"]+)">(.*?)</ul>', nav, re.S)
    return [(label, re.findall(r"<a [^>]*>([^<]+)</a>", body)) for label, body in found]


def test_every_item_is_in_exactly_one_group() -> None:
    endpoints = [item.endpoints for item in NAV_ITEMS]
    assert len(endpoints) == len(set(endpoints)) == sum(len(g.items) for g in NAV_GROUPS)


def test_the_admin_sees_four_groups_in_chinese(site: DemoSite) -> None:
    client = site.app.test_client()
    client.set_cookie("checkpoint_lang", "zh_CN")
    log_in(client, "admin", site.passwords[Role.ADMIN])
    html = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    groups = _groups(html)
    assert [label for label, _ in groups] == ["日常", "住户与来访", "值守", "设置"]
    links = dict(groups)
    assert "出入记录" in links["日常"]
    assert "车辆" in links["住户与来访"]
    assert "值守排班" in links["值守"]
    assert "操作审计" in links["设置"]


def test_a_volunteer_sees_no_empty_group(site: DemoSite) -> None:
    client = site.app.test_client()
    log_in(client, "volunteer", site.passwords[Role.VOLUNTEER])
    html = client.get("/errands/mine", headers={"Accept-Language": "en"}).get_data(as_text=True)
    groups = _groups(html)
    assert groups, "the volunteer has a menu"
    assert all(links for _, links in groups)
    assert "Settings" not in [label for label, _ in groups]
    assert "Users" not in [link for _, links in groups for link in links]


def test_the_anonymous_login_page_has_no_menu(site: DemoSite) -> None:
    html = site.app.test_client().get("/login").get_data(as_text=True)
    assert "nav-group" not in html
