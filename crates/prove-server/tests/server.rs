//! The server as a client sees it, over real sockets: the real binary is started on a free
//! port (and killed with SIGKILL for the crash test); requests are plain HTTP/1.1.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http;
use serde_json::{json, Value};

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_prove-server"))
            .args(["--bind", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        Self { child, addr }
    }

    /// One request; returns the status and the body.
    fn call(&self, method: &str, path: &str, body: &[u8], headers: &[&str]) -> (u16, Vec<u8>) {
        http::call(&self.addr, method, path, body, headers)
    }

    fn json(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        http::json(&self.addr, method, path, body)
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mnist() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../model-import/tests/data/mnist_mlp.onnx")
        .to_str()
        .unwrap()
        .to_owned()
}

fn mnist_input() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../model-import/tests/data/mnist_mlp.input.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Polls a job until it leaves the queue; its final state.
fn wait(server: &Server, job: &str, limit: Duration) -> Value {
    poll(server, &format!("/api/v1/prove/{job}"), limit)
}

/// Polls a job's status URL until the job leaves the queue; its final state.
fn poll(server: &Server, url: &str, limit: Duration) -> Value {
    let t = Instant::now();
    loop {
        let (code, v) = server.json("GET", url, &Value::Null);
        assert_eq!(code, 200, "{v}");
        let status = v["status"].as_str().unwrap().to_owned();
        if status != "queued" && status != "running" {
            return v;
        }
        assert!(t.elapsed() < limit, "{url} still {status}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_proof(server: &Server, model: &str, job: &str) {
    let (code, proof) = server.call("GET", &format!("/api/v1/prove/{job}/result"), b"", &[]);
    assert_eq!(code, 200);
    let (code, key) = server.call("GET", &format!("/api/v1/models/{model}/vk"), b"", &[]);
    assert_eq!(code, 200);
    // The key alone verifies the file, as `prove-model verify --vk` does.
    let key = zkml::KeyFile::decode(&key).unwrap();
    assert_eq!(key.digest_hex(), model);
    let file = zkml::proof::ProofFile::decode(&proof).unwrap();
    zkml::verify_outputs(&key.vk, &file.inputs(), &file.outputs(), &file.proof).unwrap();
    let (code, v) = server.json(
        "POST",
        "/api/v1/verify",
        &json!({ "model_id": model, "proof": hex::encode(&proof) }),
    );
    assert_eq!((code, v["valid"].as_bool()), (200, Some(true)), "{v}");
}

#[test]
fn models_jobs_results_and_errors_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--max-body", "2000000"]);
    let (code, v) = server.json("GET", "/health", &Value::Null);
    assert_eq!((code, v["status"].as_str()), (200, Some("ok")));

    let (code, v) = server.json("POST", "/api/v1/models", &json!({ "path": mnist() }));
    assert_eq!(code, 201, "{v}");
    let model = v["model_id"].as_str().unwrap().to_owned();
    assert_eq!(v["security_bits"], 96);
    let (code, v) = server.json("GET", &format!("/api/v1/models/{model}"), &Value::Null);
    assert_eq!((code, v["name"].as_str()), (200, Some("mnist_mlp")), "{v}");

    let (code, v) = server.json(
        "POST",
        "/api/v1/prove",
        &json!({ "model_id": model, "input": mnist_input() }),
    );
    assert_eq!(code, 202, "{v}");
    let job = v["job_id"].as_str().unwrap().to_owned();
    let done = wait(&server, &job, Duration::from_secs(60));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 1.0);
    check_proof(&server, &model, &job);
    // A finished job cannot be cancelled; a tampered proof is not valid.
    let (code, _) = server.json("DELETE", &format!("/api/v1/prove/{job}"), &Value::Null);
    assert_eq!(code, 409);
    let (_, proof) = server.call("GET", &format!("/api/v1/prove/{job}/result"), b"", &[]);
    let mut bad = proof.clone();
    let at = bad.len() / 2;
    bad[at] ^= 1;
    let (code, v) = server.json(
        "POST",
        "/api/v1/verify",
        &json!({ "model_id": model, "proof": hex::encode(&bad) }),
    );
    assert_eq!((code, v["valid"].as_bool()), (200, Some(false)), "{v}");
    assert!(v["error"].is_string());

    // Client mistakes: 4xx with a JSON error naming the problem.
    let (code, b) = server.call("POST", "/api/v1/prove", b"{\"model_id\": ", &[]);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(code, 400);
    assert!(
        v["error"].as_str().unwrap().contains("malformed JSON"),
        "{v}"
    );
    let (code, v) = server.json(
        "POST",
        "/api/v1/prove",
        &json!({ "model_id": "00", "input": [1] }),
    );
    assert_eq!(code, 404, "{v}");
    let (code, v) = server.json(
        "POST",
        "/api/v1/prove",
        &json!({ "model_id": model, "input": [0.5, 0.5] }),
    );
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("784"), "{v}");
    let (code, _) = server.json("GET", "/api/v1/prove/nope", &Value::Null);
    assert_eq!(code, 404);
    let (code, _) = server.json("GET", "/api/v1/models/nope/vk", &Value::Null);
    assert_eq!(code, 404);
    let (code, v) = server.json("POST", "/api/v1/models", &json!({ "builtin": "nope" }));
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("tiny-mlp"), "{v}");
    let (code, _) = server.json(
        "POST",
        "/api/v1/models",
        &json!({ "path": "/no/such.onnx" }),
    );
    assert_eq!(code, 400);
    let big = vec![b' '; 2_100_000];
    let (code, _) = server.call("POST", "/api/v1/prove", &big, &[]);
    assert_eq!(code, 413);
    openapi_lists_only_served_routes(&server);
}

/// Every path and method of the generated OpenAPI document is served: the call reaches a
/// handler (a JSON body, or the route's own answer), never the router's bare 404 / 405.
fn openapi_lists_only_served_routes(server: &Server) {
    let (code, doc) = server.json("GET", "/api/v1/openapi.json", &Value::Null);
    assert_eq!(code, 200);
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/health",
        "/api/v1/models",
        "/api/v1/models/{id}",
        "/api/v1/models/{id}/vk",
        "/api/v1/prove",
        "/api/v1/prove/{id}",
        "/api/v1/prove/{id}/result",
        "/api/v1/setup/{id}",
        "/api/v1/verify",
        "/api/v1/openapi.json",
    ] {
        assert!(
            paths.contains_key(route),
            "{route} missing from the document"
        );
    }
    assert!(doc["components"]["schemas"]["ProveRequest"].is_object());
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let (code, body) = server.call(
                &method.to_uppercase(),
                &path.replace("{id}", "x"),
                b"{}",
                &[],
            );
            assert_ne!(code, 405, "{method} {path}");
            assert!(code != 404 || !body.is_empty(), "{method} {path}: no route");
        }
    }
}

/// Polls a setup job until it finishes; the model it registered.
fn wait_setup(server: &Server, job: &str) -> String {
    let v = poll(
        server,
        &format!("/api/v1/setup/{job}"),
        Duration::from_secs(60),
    );
    assert_eq!(v["status"], "completed", "{v}");
    v["model_id"].as_str().unwrap().to_owned()
}

#[test]
fn large_models_are_set_up_as_jobs_and_32_concurrent_jobs_complete() {
    let dir = tempfile::tempdir().unwrap();
    // Every weight file counts as large here: the ONNX setup is a background job.
    let server = Server::start(dir.path(), &["--workers", "2", "--inline-setup-bytes", "0"]);
    let (code, v) = server.json("POST", "/api/v1/models", &json!({ "path": mnist() }));
    assert_eq!(code, 202, "{v}");
    let setup = v["job_id"].as_str().unwrap().to_owned();
    assert_eq!(v["status_url"], format!("/api/v1/setup/{setup}"));
    // A setup job is not a prove job.
    let (code, _) = server.json("GET", &format!("/api/v1/prove/{setup}"), &Value::Null);
    assert_eq!(code, 404);
    let model = wait_setup(&server, &setup);
    let (code, v) = server.json("GET", &format!("/api/v1/models/{model}"), &Value::Null);
    assert_eq!((code, v["name"].as_str()), (200, Some("mnist_mlp")), "{v}");
    // A built-in model has no weight files: inline, unless asked otherwise.
    let (code, v) = server.json("POST", "/api/v1/models", &json!({ "builtin": "mlp" }));
    assert_eq!(code, 201, "{v}");
    let mlp = v["model_id"].as_str().unwrap().to_owned();
    let (code, v) = server.json(
        "POST",
        "/api/v1/models",
        &json!({ "builtin": "mlp", "background": true }),
    );
    assert_eq!(code, 202, "{v}");
    assert_eq!(wait_setup(&server, v["job_id"].as_str().unwrap()), mlp);

    // 32 clients at once, each on its own connection.
    let input: Vec<f64> = (0..784).map(|i| f64::from(i % 7) / 8.0).collect();
    let jobs: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|k| {
                let (server, mlp, input) = (&server, &mlp, &input);
                scope.spawn(move || {
                    let mut x = input.clone();
                    x[0] = f64::from(k) / 64.0;
                    let (code, v) = server.json(
                        "POST",
                        "/api/v1/prove",
                        &json!({ "model_id": mlp, "input": x }),
                    );
                    assert_eq!(code, 202, "{v}");
                    v["job_id"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for job in &jobs {
        let done = wait(&server, job, Duration::from_secs(120));
        assert_eq!(done["status"], "completed", "{done}");
        check_proof(&server, &mlp, job);
    }
}

#[test]
fn api_key_is_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "s3cret\n").unwrap();
    let server = Server::start(dir.path(), &["--api-key-file", key.to_str().unwrap()]);
    let (code, _) = server.call("GET", "/health", b"", &[]);
    assert_eq!(code, 200);
    let body = json!({ "builtin": "tiny-mlp" }).to_string();
    for (header, want) in [
        (None, 401),
        (Some("x-api-key: nope"), 401),
        (Some("x-api-key: s3cret"), 201),
        (Some("Authorization: Bearer s3cret"), 201),
    ] {
        let headers: Vec<&str> = header.into_iter().collect();
        let (code, _) = server.call("POST", "/api/v1/models", body.as_bytes(), &headers);
        assert_eq!(code, want, "{header:?}");
    }
}

/// SIGKILL with jobs queued and running: after a restart every job completes, results
/// written before the kill are still served, and every proof verifies.
#[test]
fn jobs_survive_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "1"]);
    let (code, v) = server.json("POST", "/api/v1/models", &json!({ "builtin": "mlp" }));
    assert_eq!(code, 201, "{v}");
    let model = v["model_id"].as_str().unwrap().to_owned();
    let input: Vec<f64> = (0..784).map(|i| (i % 17) as f64 / 17.0).collect();
    let first = {
        let (_, v) = server.json(
            "POST",
            "/api/v1/prove",
            &json!({ "model_id": model, "input": input }),
        );
        v["job_id"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        wait(&server, &first, Duration::from_secs(60))["status"],
        "completed"
    );
    let mut jobs = Vec::new();
    for _ in 0..16 {
        let (code, v) = server.json(
            "POST",
            "/api/v1/prove",
            &json!({ "model_id": model, "input": input }),
        );
        assert_eq!(code, 202, "{v}");
        jobs.push(v["job_id"].as_str().unwrap().to_owned());
    }
    // Kill while the first of them is (most likely) being proved; the last is still queued.
    std::thread::sleep(Duration::from_millis(30));
    let last = jobs.last().unwrap();
    let (_, v) = server.json("GET", &format!("/api/v1/prove/{last}"), &Value::Null);
    assert_eq!(v["status"], "queued", "{v}");
    server.kill();

    let server = Server::start(dir.path(), &["--workers", "1"]);
    check_proof(&server, &model, &first);
    // A queued job can be cancelled; it is never proved.
    let (_, v) = server.json(
        "POST",
        "/api/v1/prove",
        &json!({ "model_id": model, "input": input }),
    );
    let cancelled = v["job_id"].as_str().unwrap().to_owned();
    let (code, v) = server.json(
        "DELETE",
        &format!("/api/v1/prove/{cancelled}"),
        &Value::Null,
    );
    assert_eq!(code, 200, "{v}");
    for job in &jobs {
        let done = wait(&server, job, Duration::from_secs(120));
        assert_eq!(done["status"], "completed", "{done}");
        check_proof(&server, &model, job);
    }
    let (_, v) = server.json("GET", &format!("/api/v1/prove/{cancelled}"), &Value::Null);
    assert_eq!(v["status"], "cancelled", "{v}");
    let (code, _) = server.json(
        "GET",
        &format!("/api/v1/prove/{cancelled}/result"),
        &Value::Null,
    );
    assert_eq!(code, 409);
}

/// HuggingFace folders: a BERT encoder (ids and mask in, two outputs) and one layer of a
/// decoder (token ids in, logits out), set up on a calibration input and proved by job.
#[test]
fn model_dir_encoders_and_decoders_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model-import/tests/data");
    let bert_input = json!({
        "input_ids": [[10, 30, 13, 40, 20, 55, 0, 0]],
        "attention_mask": [[1, 1, 1, 1, 1, 1, 0, 0]]
    });
    let cases = [
        (
            json!({ "model_dir": data.join("tiny-bert"), "calibration": bert_input }),
            json!({ "input_ids": [1, 2, 3, 4, 5, 6, 7, 8] }),
            json!([1, 2, 3]),
        ),
        (
            json!({ "model_dir": data.join("tiny-llama"), "layers": 1, "calibration": [5, 9, 2, 7] }),
            json!([3, 1, 4, 1]),
            json!([3, 1]),
        ),
    ];
    let mut served = Vec::new();
    for (setup, input, wrong) in cases {
        let (code, v) = server.json("POST", "/api/v1/models", &setup);
        assert_eq!(code, 201, "{v}");
        let model = v["model_id"].as_str().unwrap().to_owned();
        served.push((model.clone(), input.clone()));
        let (code, v) = server.json(
            "POST",
            "/api/v1/prove",
            &json!({ "model_id": model, "input": input }),
        );
        assert_eq!(code, 202, "{v}");
        let job = v["job_id"].as_str().unwrap().to_owned();
        let done = wait(&server, &job, Duration::from_secs(120));
        assert_eq!(done["status"], "completed", "{done}");
        check_proof(&server, &model, &job);
        // Another number of tokens than the setup's is the client's mistake.
        let (code, v) = server.json(
            "POST",
            "/api/v1/prove",
            &json!({ "model_id": model, "input": wrong }),
        );
        assert_eq!(code, 400, "{v}");
        assert!(v["error"].as_str().unwrap().contains("tokens"), "{v}");
    }
    let (code, v) = server.json(
        "POST",
        "/api/v1/models",
        &json!({ "model_dir": "/no/such/folder" }),
    );
    assert_eq!(code, 400, "{v}");
    // After a restart each model is rebuilt from its folder and key, and proves again.
    server.kill();
    let server = Server::start(dir.path(), &[]);
    for (model, input) in served {
        let (code, v) = server.json(
            "POST",
            "/api/v1/prove",
            &json!({ "model_id": model, "input": input }),
        );
        assert_eq!(code, 202, "{v}");
        let job = v["job_id"].as_str().unwrap().to_owned();
        assert_eq!(
            wait(&server, &job, Duration::from_secs(120))["status"],
            "completed"
        );
        check_proof(&server, &model, &job);
    }
}

/// Polls an audit job until it finishes.
fn wait_audit(server: &Server, job: &str) -> Value {
    poll(
        server,
        &format!("/api/v1/audit/jobs/{job}"),
        Duration::from_secs(120),
    )
}

fn hash(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn inferences_are_logged_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "2"]);
    let (code, v) = server.json("POST", "/api/v1/models", &json!({ "builtin": "mlp" }));
    assert_eq!(code, 201, "{v}");
    let model = v["model_id"].as_str().unwrap().to_owned();
    let input = |k: usize| {
        json!((0..784)
            .map(|i| ((i + k) % 9) as f64 / 9.0)
            .collect::<Vec<_>>())
    };

    // Six inferences from three clients at once: distinct entries, each answered with the
    // log's head right after it.
    let mut answers: Vec<Value> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..3)
            .map(|c| {
                let (server, model) = (&server, &model);
                scope.spawn(move || {
                    (0..2)
                        .map(|j| {
                            let (code, v) = server.json(
                                "POST",
                                "/api/v1/infer",
                                &json!({ "model_id": model, "input": input(2 * c + j) }),
                            );
                            assert_eq!(code, 200, "{v}");
                            v
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    answers.sort_by_key(|a| a["entry"].as_u64());
    for (k, a) in answers.iter().enumerate() {
        assert_eq!(a["entry"].as_u64(), Some(k as u64), "{a}");
        assert!(a["log_size"].as_u64().unwrap() > k as u64);
        assert_eq!(a["output"][0].as_array().unwrap().len(), 10);
    }
    let (_, head) = server.json("GET", "/api/v1/audit/root", &Value::Null);
    assert_eq!(head["size"], 6);
    let last = answers.iter().find(|a| a["log_size"] == 6).unwrap();
    assert_eq!(head["root"], last["log_root"]);

    // An entry with its inclusion proof, checked by the client.
    let (code, e) = server.json("GET", "/api/v1/audit/entries/2", &Value::Null);
    assert_eq!(code, 200, "{e}");
    let path: Vec<[u8; 32]> = e["inclusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    audit::verify_inclusion(
        &audit::leaf_hash(&hash(&e["entry_hash"])),
        2,
        6,
        &path,
        &hash(&head["root"]),
    )
    .unwrap();
    assert!(e["input"]["tensors"].is_array(), "{e}");
    let (code, _) = server.json("GET", "/api/v1/audit/entries/6", &Value::Null);
    assert_eq!(code, 404);
    let (code, _) = server.json("GET", "/api/v1/audit/entries/x", &Value::Null);
    assert_eq!(code, 400);
    // A bad input is refused and not logged.
    let (code, _) = server.json(
        "POST",
        "/api/v1/infer",
        &json!({ "model_id": model, "input": [1.0] }),
    );
    assert_eq!(code, 400);

    // Prove the window as a server job; the report folder checks offline.
    let (code, v) = server.json(
        "POST",
        "/api/v1/audit",
        &json!({ "model_id": model, "from_seq": 0 }),
    );
    assert_eq!(code, 202, "{v}");
    let job = v["job_id"].as_str().unwrap().to_owned();
    let done = wait_audit(&server, &job);
    assert_eq!(done["status"], "completed", "{done}");
    let (code, report) = server.json(
        "GET",
        &format!("/api/v1/audit/jobs/{job}/report"),
        &Value::Null,
    );
    assert_eq!(code, 200);
    assert_eq!(report["totals"]["proved"], 6, "{report}");
    let (_, key) = server.call("GET", &format!("/api/v1/models/{model}/vk"), b"", &[]);
    let key = zkml::KeyFile::decode(&key).unwrap();
    let trusted = audit::window::SignedSize {
        size: 6,
        root: hash(&head["root"]),
    };
    let check = audit::check::check_report(
        &dir.path().join("reports").join(&job),
        &key.vk,
        &[trusted],
        None,
    )
    .unwrap();
    assert!(check.is_valid(), "{:?}", check.problems);
    assert_eq!(check.proved, 6);
    let (code, _) = server.json(
        "POST",
        "/api/v1/audit",
        &json!({ "model_id": model, "from_seq": 4, "to_seq": 99 }),
    );
    assert_eq!(code, 400);

    // The log outlives the process.
    server.kill();
    let server = Server::start(dir.path(), &[]);
    let (_, again) = server.json("GET", "/api/v1/audit/root", &Value::Null);
    assert_eq!(again, head);
    let (code, v) = server.json(
        "POST",
        "/api/v1/infer",
        &json!({ "model_id": model, "input": input(9) }),
    );
    assert_eq!((code, v["entry"].as_u64()), (200, Some(6)), "{v}");
}

#[test]
fn a_recipient_key_seals_the_logged_records() {
    let dir = tempfile::tempdir().unwrap();
    let secret = audit::seal::RecipientSecret::generate();
    let public = secret.public().to_hex();
    let server = Server::start(dir.path(), &["--audit-recipient", &public]);
    let (code, v) = server.json("POST", "/api/v1/models", &json!({ "builtin": "tiny-mlp" }));
    assert_eq!(code, 201, "{v}");
    let model = v["model_id"].as_str().unwrap().to_owned();
    let x: Vec<f64> = (0..16).map(|i| f64::from(i) / 16.0).collect();
    let (code, answer) = server.json(
        "POST",
        "/api/v1/infer",
        &json!({ "model_id": model, "input": x }),
    );
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        answer["output"][0].as_array().unwrap().len(),
        4,
        "the client sees its answer"
    );
    let (_, e) = server.json("GET", "/api/v1/audit/entries/0", &Value::Null);
    assert!(e["input"]["sealed"].is_object(), "{e}");
    assert!(e["input"].get("request").is_none() && e["output"].get("tensors").is_none());
    // The recipient opens it.
    let logged: audit::record::Logged<audit::InferenceInput> =
        audit::record::Logged::parse(e["input"].to_string().as_bytes()).unwrap();
    let clear = logged.open(Some(&secret)).unwrap();
    assert_eq!(clear.request, json!(x));
    drop(server);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_prove-server"))
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--audit-recipient", "abcd"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--audit-recipient"));
}
