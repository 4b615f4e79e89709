#!/usr/bin/env python3
"""Submit a WASM job through a running node, follow its logs, show its bids
and receipt, and download its outputs.

    python3 clients/python/example.py --data-dir D/client --module examples/hello/hello.wasm world
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import computemesh  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="~/.computemesh", help="the running node's data dir")
    p.add_argument("--module", default="examples/hello/hello.wasm", help="the WASM module to run")
    p.add_argument("--out", help="download the outputs here (a path that does not exist)")
    p.add_argument("--wait", type=float, default=120, help="seconds the job may wait for a provider")
    p.add_argument("args", nargs="*", help="the module's arguments")
    a = p.parse_args()

    c = computemesh.Client(a.data_dir)
    with open(a.module, "rb") as f:
        module = f.read()
    spec = computemesh.wasm_spec(module, name=os.path.basename(a.module), args=a.args)
    try:
        sub = c.submit(spec, module=module, detach=True, wait_s=a.wait)
    except computemesh.APIError as e:
        sys.exit(f"the node refused the job ({e.code}): {e.message}")
    print("job", sub["job"])
    for line in c.logs(sub["job"], follow=True):
        print(line, end="")
    rec = c.job(sub["job"])
    for rnd in rec.get("rounds", []):
        for bid in rnd.get("answers", []):
            print(f"bid {bid['provider'][-8:]} {bid.get('region', '')} {bid.get('price_nano', 0) / 1e9:.9f} credits")
    out = rec.get("outcome") or {}
    if out.get("state") != "completed":
        sys.exit(f"job {sub['job']} ended {rec['state']}: {out.get('error', '')}")
    print(f"completed on {out['provider'][-8:]}, charged {out['charge_nano'] / 1e9:.9f} credits")
    if a.out and out.get("outputs"):
        c.download(out["outputs"], a.out)
        print("outputs in", a.out)


if __name__ == "__main__":
    main()
