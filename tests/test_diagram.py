"""`privlink diagram`: PNG and SVG pictures of the topology, rendered without littering the cwd."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from privlink.diagram import draw, ids_from_status, inline_images, output_format
from privlink.errors import BadInput
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink_testing import run_privlink as privlink

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def two_consumer_text() -> str:
    return demo_spec_text().replace(
        "accounts:",
        "  - name: qa\n    account: qa\n    region: eu-west-1\n    vpc: {cidr: 10.30.0.0/16, azs: 3}\n"
        "accounts:",
    )


SPECS = {
    "demo": demo_spec_text(),
    "cross-region": demo_spec_text(cross_region=True),
    "two-consumers": two_consumer_text(),
}


def svg_text(path) -> str:
    """All the text an SVG shows, joined with newlines (parses it as XML on the way)."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return "\n".join(t.text or "" for t in root.iter(f"{SVG}text"))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_png_and_svg_for_each_topology(name, tmp_path, monkeypatch):
    spec = parse_spec(SPECS[name])
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    png = draw(spec, tmp_path / "topology.png")
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    svg = draw(spec, tmp_path / "topology.svg")
    text = svg_text(svg)
    for consumer in spec.consumers:
        assert f"consumer {consumer.name}" in text
        assert f"{consumer.name}: vpce-" in text
    assert "PrivateLink" in text
    assert ("cross-region" in text) == any(spec.is_cross_region(c) for c in spec.consumers)
    assert list(work.iterdir()) == []  # diagrams wrote nothing into the cwd
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "topology.png", "topology.svg"]


def test_svg_stands_alone_with_icons_inlined(tmp_path):
    svg = draw(parse_spec(demo_spec_text()), tmp_path / "t.svg").read_text(encoding="utf-8")
    assert "data:image/png;base64," in svg
    assert 'href="/' not in svg


def test_deployed_ids_label_the_nodes(tmp_path):
    status = {
        "stacks": [
            {
                "name": "privlink-hello-producer",
                "outputs": {
                    "ServiceId": "vpce-svc-0123456789abcdef0",
                    "ServiceName": "com.amazonaws.vpce.eu-central-1.vpce-svc-0123456789abcdef0",
                },
            },
            {"name": "privlink-hello-consumer-dev", "outputs": {"EndpointId": "vpce-0fedcba9876543210"}},
            {"name": "privlink-hello-vpn-dev", "outputs": {"ClientVpnEndpointId": "cvpn-endpoint-0abc"}},
        ]
    }
    ids = ids_from_status(status)
    assert ids["consumers"]["dev"] == {
        "EndpointId": "vpce-0fedcba9876543210",
        "ClientVpnEndpointId": "cvpn-endpoint-0abc",
    }
    text = svg_text(draw(parse_spec(demo_spec_text()), tmp_path / "t.svg", ids))
    assert "vpce-svc-0123456789abcdef0" in text
    assert "dev: vpce-0fedcba9876543210" in text
    assert "cvpn-endpoint-0abc" in text


def test_status_without_stack_outputs_gives_no_ids():
    assert ids_from_status(None) == {"producer": {}, "consumers": {}}
    assert ids_from_status({"stacks": "nope"}) == {"producer": {}, "consumers": {}}


def test_unknown_extension_is_bad_input(tmp_path):
    with pytest.raises(BadInput):
        output_format(tmp_path / "topology.gif")
    with pytest.raises(BadInput):
        draw(parse_spec(demo_spec_text()), tmp_path / "topology")
    assert list(tmp_path.iterdir()) == []


def test_inline_images_leaves_missing_files_alone(tmp_path):
    icon = tmp_path / "i.png"
    icon.write_bytes(PNG_SIGNATURE)
    out = inline_images(f'<image xlink:href="{icon}"/><image xlink:href="/no/such.png"/>')
    assert out.startswith('<image xlink:href="data:image/png;base64,iVBORw0KGgo="/>')
    assert 'xlink:href="/no/such.png"' in out


@pytest.fixture
def spec_dir(tmp_path):
    assert privlink("init", cwd=tmp_path).returncode == 0
    return tmp_path


def test_cli_writes_png_and_leaves_nothing_else(spec_dir):
    result = privlink("diagram", "--out", "topology.png", cwd=spec_dir)
    assert result.returncode == 0, result.stderr
    assert (spec_dir / "topology.png").read_bytes()[:8] == PNG_SIGNATURE
    assert sorted(p.name for p in spec_dir.iterdir()) == ["privlink.yaml", "topology.png"]


def test_cli_bad_extension_and_missing_directory_are_exit_2(spec_dir):
    for out in ("topology.jpg", "no-such-dir/topology.svg"):
        result = privlink("diagram", "--out", out, cwd=spec_dir)
        assert result.returncode == 2, out
        assert "--out" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in spec_dir.iterdir()) == ["privlink.yaml"]


def test_cli_draws_the_spec_when_the_status_cannot_be_had(spec_dir):
    (spec_dir / ".privlink").mkdir()  # looks deployed: the CLI asks the local target for IDs
    result = privlink("diagram", "--out", "topology.svg", cwd=spec_dir)
    assert result.returncode == 0, result.stderr
    assert "consumer dev" in svg_text(spec_dir / "topology.svg")
