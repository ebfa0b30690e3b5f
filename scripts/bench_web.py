"""`make bench`'s web-tier measurements: upload latency of a large photo and job-status requests per second."""

from __future__ import annotations

import io
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from bench_stack import Client


def big_image(megabytes: float = 5.0) -> bytes:
    """A photo-like JPEG of about the given size (noise keeps it from compressing)."""
    import numpy as np
    from PIL import Image, ImageDraw

    side = 2600
    rng = np.random.default_rng(1)
    pixels = (rng.normal(200, 40, (side, int(side * 0.75), 3))).clip(0, 255).astype("uint8")
    image = Image.fromarray(pixels)
    ImageDraw.Draw(image).text((100, 100), "1. What is duty of care?", fill="black")
    for quality in (95, 90, 85, 80, 70):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        if buffer.tell() <= megabytes * 1024 * 1024:
            return buffer.getvalue()
    return buffer.getvalue()


def upload_latency(client: Client, count: int) -> list[float]:
    data = big_image()
    timings = []
    for _ in range(count):
        started = time.monotonic()
        status, body = client.upload([data])
        timings.append(time.monotonic() - started)
        if status != 202:
            raise SystemExit(f"upload failed: {body}")
        client.request("DELETE", f"/api/v1/jobs/{body['data']['job_id']}")
    return timings, len(data)


def status_rps(client: Client, job_id: str, seconds: float, threads: int) -> float:
    """Requests/s on the job status endpoint: wrk if installed (a Python client would eat the CPU it measures)."""
    import shutil

    if shutil.which("wrk"):
        headers = [arg for name, value in client.headers.items() for arg in ("-H", f"{name}: {value}")]
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{threads}",
                f"-d{int(seconds)}s",
                *headers,
                f"http://127.0.0.1:{client.port}/api/v1/jobs/{job_id}",
            ],
            capture_output=True,
            text=True,
        ).stdout
        for line in out.splitlines():
            if line.startswith("Requests/sec:"):
                return float(line.split()[1])
    return _python_rps(client, job_id, seconds, threads)


def _python_rps(client: Client, job_id: str, seconds: float, threads: int) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def hammer(i):
        local = Client(client.port, "")
        local.headers = client.headers
        while time.monotonic() < stop:
            status, _ = local.request("GET", f"/api/v1/jobs/{job_id}")
            if status == 200:
                counts[i] += 1

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(hammer, range(threads)))
    return sum(counts) / seconds
