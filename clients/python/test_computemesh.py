"""Tests of the Python client against a running node: run by the Go test
TestClientsOnDevnet (testnet package), which starts a devnet and sets
MESHNODE_DATA_DIR (the client node's data dir), MESHNODE_HELLO_MODULE and
MESHNODE_GUEST_MODULE (a module whose "write PATH" writes a file)."""

import base64
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import computemesh  # noqa: E402


def env(name):
    v = os.environ.get(name)
    if not v:
        raise unittest.SkipTest(f"{name} is not set: run through go test ./testnet -run TestClientsOnDevnet")
    return v


def read(path):
    with open(path, "rb") as f:
        return f.read()


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = computemesh.Client(env("MESHNODE_DATA_DIR"))
        cls.hello = read(env("MESHNODE_HELLO_MODULE"))
        cls.guest = read(env("MESHNODE_GUEST_MODULE"))

    def test_module_cid(self):
        self.assertTrue(computemesh.module_cid(self.hello).startswith("bafkrei"))

    def test_info_and_document(self):
        info = self.c.info()
        self.assertEqual(info["mode"], "client")
        self.assertGreater(info["peers"], 0)
        doc = self.c.openapi()
        self.assertIn("/v1/jobs", doc["paths"])

    def test_submit_follow_logs_and_records(self):
        events = []
        spec = computemesh.wasm_spec(self.hello, name="hello.wasm", args=["from", "python"])
        out = self.c.submit(spec, module=self.hello, on_event=events.append, wait_s=90)
        self.assertEqual(out["state"], "completed", out.get("error"))
        kinds = [e["kind"] for e in events]
        self.assertIn("bid", kinds)
        self.assertIn("winner", kinds)
        logs = "".join(e["message"] for e in events if e["kind"] == "log")
        logs += base64.b64decode(out.get("stdout") or "").decode()
        self.assertIn("from python", logs)
        rec = self.c.job(out["job"])
        bids = [b for r in rec["rounds"] for b in r.get("answers", []) if not b.get("decline")]
        self.assertTrue(bids and bids[0]["price_nano"] > 0, rec["rounds"])
        self.assertIn(out["job"], [j["id"] for j in self.c.jobs()])
        replay = [e["kind"] for e in self.c.events(out["job"])]
        self.assertEqual(replay[-1], "done")
        deadline = time.time() + 60  # the receipt is recorded as the job ends
        while True:
            receipts = [r for r in self.c.credits(recent=50)["receipts"] if r["job"] == out["job"]]
            if receipts or time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertTrue(receipts and receipts[0]["amount"] > 0, "no receipt of the job")
        self.assertFalse(self.c.verify_ledger()["problems"])

    def test_detach_logs_and_download(self):
        spec = computemesh.wasm_spec(self.guest, name="guest.wasm", args=["write", "/outputs/out.txt"])
        sub = self.c.submit(spec, module=self.guest, detach=True, wait_s=90)
        self.assertEqual(sub["state"], "submitted")
        list(self.c.logs(sub["job"], follow=True))  # until the job ends
        out = self.c.job(sub["job"])["outcome"]
        self.assertEqual(out["state"], "completed", out.get("error"))
        listing = self.c.list(out["outputs"])
        self.assertEqual([e["name"] for e in listing["entries"]], ["out.txt"])
        self.assertEqual(self.c.read(out["outputs"], "out.txt"), b"written by guest")
        with tempfile.TemporaryDirectory() as d:
            target = os.path.join(d, "outputs")
            self.c.download(out["outputs"], target)
            with open(os.path.join(target, "out.txt"), "rb") as f:
                self.assertEqual(f.read(), b"written by guest")
            with self.assertRaises(FileExistsError):
                self.c.download(out["outputs"], target)

    def test_errors_have_one_shape(self):
        with self.assertRaises(computemesh.APIError) as e:
            self.c.job("zzzzzzzz")
        self.assertEqual((e.exception.code, e.exception.status), ("not_found", 404))
        with self.assertRaises(computemesh.APIError) as e:
            self.c.market(window="forever")
        self.assertEqual(e.exception.code, "bad_request")
        self.assertIn("window", e.exception.message)
        with self.assertRaises(computemesh.APIError) as e:
            self.c.submit({"executor": "wasm"}, module=self.hello)
        self.assertEqual(e.exception.code, "bad_request")
        bad = computemesh.Client(addr=self.c.base[len("http://"):], token="wrong")
        with self.assertRaises(computemesh.APIError) as e:
            bad.info()
        self.assertEqual(e.exception.code, "unauthorized")

    def test_market_and_providers(self):
        self.assertIsInstance(self.c.market("24h"), list)
        provs = self.c.providers()
        self.assertTrue(provs, "no providers found")
        self.assertIsInstance(self.c.reputation(), list)
        self.assertEqual(self.c.provider_jobs(), {"running": [], "queued": []})  # a client runs none


if __name__ == "__main__":
    unittest.main()
