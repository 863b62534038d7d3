#!/usr/bin/env python3
"""Measures the pack function binary as Lambda would run it: wall time of one invocation and peak
RSS (VmHWM) of the process, on a real package set, with moto_server as S3 on 127.0.0.1.

usage: bench-pack-function.py <kernel-packer-fn-pack binary> <dir with the set's package files> [type]
Needs moto_server and boto3 (both in the venv of scripts/setup.d/20-moto.sh: run it with
/opt/kernel-packer-moto/bin/python). KP_BENCH_MANIFEST=<manifest.yml> appends a real manifest's
entries, so the per-invocation manifest read is realistic. Prints one JSON line."""
import hashlib, http.server, json, os, socket, subprocess, sys, tempfile, threading, time

import boto3


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def simplify(url):
    return "".join(c if c.isalnum() and c.isascii() or c in "_.-" else "-" for c in url)


def main():
    binary, pkg_dir = sys.argv[1], sys.argv[2]
    kind = sys.argv[3] if len(sys.argv) > 3 else "debian"
    port = free_port()
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close(); break
            except OSError:
                time.sleep(0.1)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="packages"); s3.create_bucket(Bucket="bundles")
        names, total = [], 0
        for f in sorted(os.listdir(pkg_dir)):
            if f.startswith("."):
                continue
            name = simplify("http://mirror.test/pool/" + f)
            s3.upload_file(os.path.join(pkg_dir, f), "packages", name)
            names.append(name); total += os.path.getsize(os.path.join(pkg_dir, f))
        ident = hashlib.sha256("".join(sorted(names)).encode()).hexdigest()
        manifest = f"{ident}:\n  type: {kind}\n  packages:\n" + "".join(f"  - {n}\n" for n in names)
        if os.environ.get("KP_BENCH_MANIFEST"):
            with open(os.environ["KP_BENCH_MANIFEST"]) as f:
                manifest += "".join(l for l in f if not l.startswith("#"))
        s3.put_object(Bucket="bundles", Key="manifest.yml", Body=manifest.encode())

        state = {"served": False, "t0": None, "t1": None, "reply": None}
        done = threading.Event()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def send(self, code, body, headers=()):
                self.send_response(code)
                for k, v in headers: self.send_header(k, v)
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def do_GET(self):
                if self.path.endswith("/invocation/next") and not state["served"]:
                    state["served"] = True; state["t0"] = time.monotonic()
                    dl = str(int(time.time() * 1000) + 900_000)
                    self.send(200, json.dumps({"id": ident}).encode(), [
                        ("Lambda-Runtime-Aws-Request-Id", "bench"), ("Lambda-Runtime-Deadline-Ms", dl),
                        ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:0:function:bench")])
                else:
                    done.wait(900); self.send(500, b"done")
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0)); body = self.rfile.read(n)
                state["t1"] = time.monotonic(); state["reply"] = (self.path.rsplit("/", 1)[-1], json.loads(body))
                self.send(202, b"{}"); done.set()

        api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=api.serve_forever, daemon=True).start()
        work = tempfile.mkdtemp()
        env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.server_address[1]}",
                   AWS_LAMBDA_FUNCTION_NAME="bench", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="2048",
                   AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_LOG_STREAM_NAME="s", AWS_LAMBDA_LOG_GROUP_NAME="g",
                   KERNEL_PACKER_S3_ENDPOINT=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                   KERNEL_PACKER_PACKAGES="s3://packages", KERNEL_PACKER_BUNDLES="s3://bundles",
                   KERNEL_PACKER_MANIFEST="s3://bundles/manifest.yml", KERNEL_PACKER_WORK_DIR=work)
        t_start = time.monotonic()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Sample the work dir size (ephemeral storage) while the invocation runs.
        peak_disk = 0
        while not done.wait(0.2):
            if proc.poll() is not None:
                sys.exit("function exited: " + proc.stderr.read().decode())
            if time.monotonic() - t_start > 900:
                sys.exit("timeout")
            out = subprocess.run(["du", "-sb", work], capture_output=True, text=True).stdout.split()
            peak_disk = max(peak_disk, int(out[0]) if out else 0)
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
        proc.kill(); proc.wait()
        kind_, reply = state["reply"]
        print(json.dumps({"result": kind_, "invocation_s": round(state["t1"] - state["t0"], 2),
                          "process_s": round(state["t1"] - t_start, 2), "peak_rss_mib": round(hwm / 1024, 1),
                          "peak_work_dir_mib": round(peak_disk / 2**20, 1), "packages_mib": round(total / 2**20, 1),
                          "bundle_mib": round(reply.get("size", 0) / 2**20, 1), "cpus": os.cpu_count(),
                          "reply": reply}))
    finally:
        moto.kill(); moto.wait()


if __name__ == "__main__":
    main()
