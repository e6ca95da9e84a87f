"""The client library and the colorize / batch / demo commands against a real gateway."""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import grpc
import numpy as np
import pytest

from colorizer.cli import main
from colorizer.imaging.hints_json import HintSet, parse_hint_spec
from service.client import (
    ClientError,
    ColorizeOptions,
    ColorizerClient,
    RetryPolicy,
    SyncColorizerClient,
    build_request,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def write_sketch(path: Path, height: int, width: int, *, alpha: bool = False) -> Path:
    img = np.full((height, width), 255, np.uint8)
    cv2.rectangle(img, (width // 5, height // 5), (width * 4 // 5, height * 4 // 5), 0, 2)
    cv2.line(img, (0, height - 1), (width - 1, 0), 0, 2)
    if alpha:  # black ink on transparent paper
        img = np.dstack([np.zeros_like(img)] * 3 + [255 - img])
    assert cv2.imwrite(str(path), img)
    return path


def image_size(path: Path) -> tuple[int, int]:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"{path} does not decode"
    return img.shape[0], img.shape[1]


def test_colorize_local_mode_returns_the_original_size(
    model_repository: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sketch = write_sketch(tmp_path / "odd.png", 333, 517)
    out = tmp_path / "out" / "odd.webp"
    local = ["--model-repository", str(model_repository), "--input-size", "64"]
    code = main(["colorize", str(sketch), "-o", str(out), "--hint", "100,50,#ff0000,8", *local])
    assert code == 0
    assert out.read_bytes()[8:12] == b"WEBP" and image_size(out) == (333, 517)
    assert "517x333 webp" in capsys.readouterr().out


def test_colorize_through_a_server_follows_hints(
    server_address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sketch = write_sketch(tmp_path / "alpha.png", 120, 90, alpha=True)
    hints_file = tmp_path / "h.json"
    hints_file.write_text(
        json.dumps({"strokes": [{"points": [[5, 5], [85, 5]], "width": 6, "color": "#00ff00"}]})
    )
    plain, hinted = tmp_path / "plain.png", tmp_path / "hinted.png"
    assert main(["colorize", str(sketch), "-o", str(plain), "--server", server_address]) == 0
    args = [
        "colorize",
        str(sketch),
        "-o",
        str(hinted),
        "--server",
        server_address,
        "--hints-file",
        str(hints_file),
    ]
    assert main([*args, "--hint", "45,60,#ff0000,20"]) == 0
    out = capsys.readouterr().out
    assert "0 hint cells" in out and "hint cells" in out.splitlines()[-1]
    assert image_size(hinted) == (120, 90)
    a = cv2.imread(str(plain)).astype(int)
    b = cv2.imread(str(hinted)).astype(int)
    # The hints change the result where they are placed (the top band and the middle).
    assert np.abs(a[:12] - b[:12]).mean() > np.abs(a[100:] - b[100:]).mean()
    assert np.abs(a - b).max() > 0


def test_colorize_flat_fill_paints_the_hinted_region_in_the_hint_color(
    server_address: str, tmp_path: Path
) -> None:
    sketch = write_sketch(tmp_path / "s.png", 120, 90)  # a closed box cut by a diagonal
    out = tmp_path / "flat.png"
    args = ["colorize", str(sketch), "-o", str(out), "--server", server_address, "--flat-fill"]
    assert main([*args, "--hint", "30,40,#ff0000"]) == 0
    rgb = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert tuple(rgb[40, 30]) == (255, 0, 0) and tuple(rgb[35, 25]) == (255, 0, 0)


def test_flat_fill_and_model_size_do_not_combine() -> None:
    with pytest.raises(ValueError, match="flat_fill"):
        ColorizeOptions(flat_fill=True, model_size=True)
    request = build_request(b"png", HintSet(), options=ColorizeOptions(flat_fill=True))
    assert request.output.flat_fill


def test_colorize_reports_invalid_hints_from_the_server(
    server_address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sketch = write_sketch(tmp_path / "s.png", 40, 60)
    args = ["colorize", str(sketch), "-o", str(tmp_path / "o.png"), "--server", server_address]
    code = main([*args, "--hint", "9999,5,#ffffff"])
    assert code == 1
    err = capsys.readouterr().err
    assert "INVALID_ARGUMENT" in err and "points[0].x=9999 is outside the 0..60 sketch width" in err
    assert not (tmp_path / "o.png").exists()


def test_colorize_rejects_bad_flags_before_calling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sketch = write_sketch(tmp_path / "s.png", 40, 60)
    assert main(["colorize", str(sketch), "-o", str(tmp_path / "o.png"), "--hint", "1,2,red"]) == 2
    assert "'red' is not a color" in capsys.readouterr().err
    assert main(["colorize", str(sketch), "-o", str(tmp_path / "o.gif")]) == 2


def test_batch_colors_a_folder_and_resumes(
    server_address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    write_sketch(in_dir / "a.png", 50, 70)
    write_sketch(in_dir / "b.png", 64, 64, alpha=True)
    (in_dir / "b.hints.json").write_text(json.dumps({"points": [{"x": 10, "y": 10, "color": "#123456"}]}))
    (in_dir / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (in_dir / "notes.txt").write_text("not a sketch")
    base = [
        "batch",
        str(in_dir),
        str(out_dir),
        "--server",
        server_address,
        "--concurrency",
        "2",
        "--no-progress",
    ]

    assert main(base) == 1  # c.png fails
    captured = capsys.readouterr()
    assert "2 done, 1 failed, 0 skipped" in captured.out and "images/s" in captured.out
    assert "c.png" in captured.err and "INVALID_ARGUMENT" in captured.err
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "b.png"]
    assert image_size(out_dir / "a.png") == (50, 70)
    first = (out_dir / "a.png").stat().st_mtime_ns

    (in_dir / "c.png").unlink()
    assert main(base) == 0
    assert "0 done, 0 failed, 2 skipped" in capsys.readouterr().out
    assert (out_dir / "a.png").stat().st_mtime_ns == first


def test_batch_local_mode_writes_jpeg(model_repository: Path, tmp_path: Path) -> None:
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    write_sketch(in_dir / "x.bmp", 30, 45)
    args = ["batch", str(in_dir), str(tmp_path / "out"), "--format", "jpeg", "--no-progress"]
    assert main([*args, "--model-repository", str(model_repository), "--input-size", "64"]) == 0
    assert image_size(tmp_path / "out" / "x.jpg") == (30, 45)


def test_missing_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sketch = write_sketch(tmp_path / "s.png", 40, 60)
    code = main(["colorize", str(sketch), "-o", str(tmp_path / "o.png"), "--model-repository", str(tmp_path)])
    assert code == 1
    assert "UNAVAILABLE: cannot start the local gateway" in capsys.readouterr().err


def test_sync_client_and_stream(server_address: str) -> None:
    with SyncColorizerClient(server_address, timeout_s=30) as client:
        info = client.model_info()
        assert info.model_name == "colorizer" and info.input_size == 64
        sketch = cv2.imencode(".png", np.full((20, 30), 255, np.uint8))[1].tobytes()
        result = client.colorize(
            build_request(sketch, HintSet((parse_hint_spec("3,4,#ff0000"),)), request_id="r1")
        )
        assert (result.request_id, result.width, result.height, result.hint_cells) == ("r1", 30, 20, 1)
        assert result.timings_ms["total"] > 0


async def test_stream_returns_every_item(server_address: str) -> None:
    sketch = cv2.imencode(".png", np.full((20, 30), 255, np.uint8))[1].tobytes()
    requests = [build_request(sketch, request_id=f"id{i}") for i in range(5)]
    requests.append(build_request(b"garbage", request_id="bad"))
    async with ColorizerClient(server_address, timeout_s=30) as client:
        responses = [r async for r in client.colorize_stream(requests)]
    by_id = {r.request_id: r for r in responses}
    assert len(responses) == 6 and set(by_id) == {*(f"id{i}" for i in range(5)), "bad"}
    assert by_id["bad"].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert by_id["id3"].result.width == 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_retries_unavailable_until_the_gateway_is_up(make_settings: Callable[..., Any]) -> None:
    import asyncio

    from service.server import running_server

    port = free_port()
    address = f"127.0.0.1:{port}"
    async with ColorizerClient(address, timeout_s=5, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(ClientError) as info:
            await client.model_info()
        assert info.value.code == grpc.StatusCode.UNAVAILABLE and info.value.method == "GetModelInfo"

    policy = RetryPolicy(attempts=8, initial_backoff_s=0.2, max_backoff_s=0.5)
    async with ColorizerClient(address, timeout_s=5, retry=policy) as client:
        call = asyncio.create_task(client.model_info())
        await asyncio.sleep(0.3)  # the first tries find nothing listening
        assert not call.done()
        start = time.monotonic()
        async with running_server(make_settings(port=port, grace_s=0)):
            info_pb = await asyncio.wait_for(call, 30)
        assert info_pb.model_name == "colorizer" and time.monotonic() - start < 30


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(initial_backoff_s=0.1, multiplier=2.0, max_backoff_s=0.5)
    assert 0.05 <= policy.backoff(1) <= 0.1
    assert 0.2 <= policy.backoff(3) <= 0.4
    assert 0.25 <= policy.backoff(10) <= 0.5


def test_demo_colors_examples_and_writes_a_contact_sheet(
    model_repository: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    for name in ("02_odd_333x517.png", "02_odd_333x517.hints.json", "04_alpha.png", "04_alpha.hints.json"):
        shutil.copy(EXAMPLES / name, examples / name)
    out = tmp_path / "demo_out"
    args = ["demo", "--examples", str(examples), "--out", str(out), "--tile", "96"]
    assert main([*args, "--model-repository", str(model_repository), "--input-size", "64"]) == 0
    assert image_size(out / "results" / "02_odd_333x517.png") == (333, 517)
    assert image_size(out / "results" / "04_alpha.png") == (300, 300)
    assert image_size(out / "results-flat" / "02_odd_333x517.png") == (333, 517)
    h, w = image_size(out / "contact_sheet.png")
    assert w == 8 + 4 * (96 + 8) and h > 2 * 96  # sketch | hints | result | flat fill
    assert "2 done, 0 failed, 0 skipped" in capsys.readouterr().out
