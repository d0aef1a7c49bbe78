//! `sonovec serve`: the real binary on an ephemeral loopback port, driven by a real HTTP client.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sonovec::catalog::Catalog;

/// A running `sonovec serve`, killed if the test ends without stopping it.
struct Server {
    child: Child,
    base: String,
    catalog: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_in(tempfile::tempdir().unwrap(), extra, env)
    }

    /// A server on the catalog `catalog.db` of `dir` (another server's, after it stopped).
    fn start_in(dir: tempfile::TempDir, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let catalog = dir.path().join("catalog.db");
        let spool = dir.path().join("spool");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sonovec"))
            .args(["serve", "--addr", "127.0.0.1:0", "--catalog"])
            .arg(&catalog)
            .arg("--spool-dir")
            .arg(&spool)
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            base,
            catalog,
            dir: Some(dir),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn spool_dir(&self) -> PathBuf {
        self.dir.as_ref().unwrap().path().join("spool")
    }

    /// SIGTERM, then the exit status (the server must stop by itself within a minute) and the
    /// folder holding the catalog.
    fn terminate(mut self) -> (std::process::ExitStatus, tempfile::TempDir) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.dir.take().unwrap());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    )
}

/// Status and body of a response.
fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
    let mut response = result.unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

fn post(server: &Server, query: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    answer(
        agent()
            .post(server.url(&format!("/v1/tracks{query}")))
            .header("Content-Type", content_type)
            .send(body),
    )
}

fn get(server: &Server, path: &str) -> (u16, String) {
    answer(agent().get(server.url(path)).call())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A mono 16-bit WAV of `seconds` of a tone at `freq` Hz (distinct content per frequency).
fn wav(seconds: f64, freq: f64, rate: u32) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
    for n in 0..(seconds * rate as f64) as usize {
        let t = n as f64 / rate as f64;
        let noise = ((n as u64).wrapping_mul(2654435761) % 1000) as f64 / 1000.0 - 0.5;
        let v = 0.5 * (std::f64::consts::TAU * freq * t).sin() + 0.1 * noise;
        writer.write_sample((v * 20000.0) as i16).unwrap();
    }
    writer.finalize().unwrap();
    bytes.into_inner()
}

fn catalog_counts(path: &Path) -> (usize, usize) {
    Catalog::open_existing(path).unwrap().counts().unwrap()
}

fn spool_is_empty(server: &Server) -> bool {
    std::fs::read_dir(server.spool_dir())
        .unwrap()
        .next()
        .is_none()
}

#[test]
fn uploads_of_every_format_bad_input_and_duplicates_get_the_right_status() {
    let server = Server::start(&["--model", "none"]);
    let dir = common::repo_path("tests/fixtures/formats");
    let manifest = common::read_csv(&dir.join("manifest.csv"));
    let mut ids = Vec::new();
    for row in &manifest {
        let name = &row["file"];
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let (status, body) = post(
            &server,
            &format!("?id=ext-{name}&name={name}"),
            "application/octet-stream",
            &bytes,
        );
        assert_eq!(status, 201, "{name}: {body}");
        let record = json(&body);
        assert_eq!(record["path"], format!("ext-{name}"), "{name}");
        assert_eq!(
            record["codec"].as_str().unwrap().starts_with("pcm"),
            row["codec"] == "pcm"
        );
        assert!(!record["vector"].as_array().unwrap().is_empty());
        ids.push(record["id"].as_str().unwrap().to_string());
    }

    // The same content again: stored once, answered 200 with the stored record.
    let flac = dir.join("flac_s24_16000_1ch.flac");
    let (status, body) = post(&server, "", "audio/flac", &std::fs::read(&flac).unwrap());
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["path"], "ext-flac_s24_16000_1ch.flac");

    // Readable back by content id and by external id; similar lists the other tracks.
    let (status, body) = get(&server, &format!("/v1/tracks/{}", ids[0]));
    assert_eq!(status, 200);
    assert_eq!(json(&body)["id"], ids[0].as_str());
    let (status, body) = get(
        &server,
        "/v1/tracks/ext-mp3_cbr128_44100_2ch.mp3/similar?k=3",
    );
    assert_eq!(status, 200, "{body}");
    let similar = json(&body);
    assert_eq!(similar["neighbours"].as_array().unwrap().len(), 3);
    assert_eq!(similar["searched"], manifest.len());
    assert_eq!(get(&server, "/v1/tracks/nope").0, 404);

    // Bad input is the client's problem: the whole bad corpus gets 422 (with the error record)
    // or, for files that still hold audio, 201; never a 5xx.
    let bad_dir = common::repo_path("tests/fixtures/bad");
    let (mut failed, mut rejected) = (0, 0);
    for row in common::read_csv(&bad_dir.join("expect.csv")) {
        let name = &row["file"];
        let bytes = std::fs::read(bad_dir.join(name)).unwrap();
        let (status, body) = post(&server, &format!("?name={name}"), "audio/mpeg", &bytes);
        let record = json(&body);
        let allowed: &[u16] = match row["expect"].as_str() {
            "error" => &[422, 400],
            "ok" => &[201, 200],
            _ => &[201, 200, 422, 400],
        };
        assert!(allowed.contains(&status), "{name}: {status} {body}");
        rejected += usize::from(status == 400); // empty.wav: 0 bytes
        if status == 422 {
            assert!(record["error"]["kind"].is_string(), "{body}");
            assert!(record["vector"].is_null());
            failed += 1;
        }
    }
    assert!(failed >= 5, "only {failed} of the bad corpus failed");
    assert_eq!(post(&server, "", "audio/wav", b"").0, 400);
    assert_eq!(post(&server, "", "text/plain", b"RIFF....").0, 400);

    // Multipart: the file field and an id field.
    let boundary = "sonovec-test-boundary";
    let mut form = Vec::new();
    form.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nform-1\r\n")
            .as_bytes(),
    );
    form.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
        )
        .as_bytes(),
    );
    form.extend_from_slice(&wav(1.0, 330.0, 16000));
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (status, body) = post(
        &server,
        "",
        &format!("multipart/form-data; boundary={boundary}"),
        &form,
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(json(&body)["path"], "form-1");

    let (status, metrics) = get(&server, "/metrics");
    assert_eq!(status, 200);
    let (tracks, failures) = catalog_counts(&server.catalog);
    assert_eq!(failures, failed);
    for line in [
        format!("sonovec_tracks_stored {tracks}"),
        format!("sonovec_failures_stored {failed}"),
        format!(
            "sonovec_http_requests_total{{method=\"POST\",route=\"/v1/tracks\",status=\"422\"}} {failed}"
        ),
        format!(
            "sonovec_http_requests_total{{method=\"POST\",route=\"/v1/tracks\",status=\"400\"}} {}",
            rejected + 2
        ),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing from\n{metrics}"
        );
    }
    assert_eq!(get(&server, "/healthz").0, 200);
    assert!(spool_is_empty(&server), "spool files left behind");

    let catalog = server.catalog.clone();
    let (status, _dir) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(catalog_counts(&catalog), (tracks, failed));
    // Every format fixture and the multipart upload are among the tracks.
    assert!(tracks > manifest.len());
}

#[test]
fn concurrent_uploads_store_each_content_once() {
    let server = Server::start(&["--model", "none", "--workers", "2", "--queue", "64"]);
    let distinct: Vec<Vec<u8>> = (0..6)
        .map(|i| wav(2.0, 200.0 + 50.0 * i as f64, 16000))
        .collect();
    // Every distinct clip posted by three clients at once.
    let statuses: Vec<(usize, u16)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..18)
            .map(|n| {
                let (server, bytes) = (&server, &distinct[n % 6]);
                scope.spawn(move || (n % 6, post(server, "", "audio/wav", bytes).0))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for clip in 0..6 {
        let mut got: Vec<u16> = statuses
            .iter()
            .filter(|(c, _)| *c == clip)
            .map(|(_, s)| *s)
            .collect();
        got.sort();
        assert_eq!(got, vec![200, 200, 201], "clip {clip}");
    }
    let catalog = server.catalog.clone();
    let (status, _dir) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(catalog_counts(&catalog), (6, 0));
}

#[test]
fn size_limit_and_token() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret\n").unwrap();
    let server = Server::start(&[
        "--model",
        "none",
        "--workers",
        "1",
        "--queue",
        "0",
        "--max-upload-bytes",
        "100000",
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    let send = |bytes: &[u8], token: Option<&str>| {
        let mut request = agent()
            .post(server.url("/v1/tracks"))
            .header("Content-Type", "audio/wav");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        answer(request.send(bytes))
    };
    let short = wav(1.0, 440.0, 16000);
    assert_eq!(send(&short, None).0, 401);
    assert_eq!(send(&short, Some("guess")).0, 401);
    assert_eq!(send(&short, Some("s3cret")).0, 201);

    // Over the limit by Content-Length: answered from the headers alone, no body sent at all.
    let mut raw = std::net::TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        raw,
        "POST /v1/tracks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\
         Content-Type: audio/wav\r\nContent-Length: 1000000000\r\n\r\n"
    )
    .unwrap();
    let mut head = String::new();
    BufReader::new(&raw).read_line(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // Streamed without a length (chunked): cut off once past the limit.
    let big = wav(5.0, 440.0, 16000); // 160 kB
    let mut reader: &[u8] = &big;
    let result = agent()
        .post(server.url("/v1/tracks"))
        .header("Content-Type", "audio/wav")
        .header("Authorization", "Bearer s3cret")
        .send(ureq::SendBody::from_reader(&mut reader));
    match result {
        Ok(response) => assert_eq!(response.status().as_u16(), 413),
        // The server answers and closes without reading the rest; a client that keeps writing
        // instead of reading the early answer (ureq does) sees the connection go.
        Err(ureq::Error::Io(e)) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
        Err(e) => panic!("{e}"),
    }
    let metrics = get(&server, "/metrics").1;
    let too_large =
        "sonovec_http_requests_total{method=\"POST\",route=\"/v1/tracks\",status=\"413\"} 2";
    assert!(metrics.lines().any(|l| l == too_large), "{metrics}");

    let catalog = server.catalog.clone();
    let (status, _dir) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(catalog_counts(&catalog), (1, 0));
}

#[test]
fn backpressure_and_graceful_shutdown() {
    let server = Server::start(&["--model", "none", "--workers", "1", "--queue", "0"]);
    let send = |bytes: &[u8]| {
        answer(
            agent()
                .post(server.url("/v1/tracks"))
                .header("Content-Type", "audio/wav")
                .send(bytes),
        )
    };
    let short = wav(1.0, 440.0, 16000);
    // One worker and no queue: while a long upload is admitted, another is told to come back.
    let long = wav(90.0, 523.0, 16000); // 2.9 MB, 90 s of audio
    std::thread::scope(|scope| {
        let first = scope.spawn(|| send(&long));
        let started = Instant::now();
        loop {
            let health = json(&get(&server, "/healthz").1);
            if health["admission_free"] == 0 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "upload never admitted"
            );
            assert!(
                !first.is_finished(),
                "the long upload finished before it was seen"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let response = agent()
            .post(server.url("/v1/tracks"))
            .header("Content-Type", "audio/wav")
            .send(&short[..])
            .unwrap();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(response.headers()["retry-after"], "2");

        // SIGTERM while the long upload is in flight: it still completes and is stored.
        unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
        let (status, body) = first.join().unwrap();
        assert_eq!(status, 201, "{body}");
    });
    let catalog = server.catalog.clone();
    let (status, _dir) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(catalog_counts(&catalog), (1, 0));
}

/// With one worker and no queue, each upload's place is given back once it is answered: five
/// uploads sent one after another, each as soon as the one before is answered, are all stored.
#[test]
fn back_to_back_uploads_to_one_worker_are_all_admitted() {
    let server = Server::start(&["--model", "none", "--workers", "1", "--queue", "0"]);
    for n in 0..5 {
        let (status, body) = post(
            &server,
            "",
            "audio/wav",
            &wav(0.5, 200.0 + 100.0 * n as f64, 16000),
        );
        assert_eq!(status, 201, "upload {n}: {body}");
    }
    let catalog = server.catalog.clone();
    let (status, _dir) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(catalog_counts(&catalog), (5, 0));
}

#[test]
fn an_analysis_over_the_timeout_is_a_recorded_client_error() {
    let server = Server::start(&["--model", "none", "--timeout", "0.001"]);
    let (status, body) = post(&server, "", "audio/wav", &wav(30.0, 440.0, 16000));
    assert_eq!(status, 422, "{body}");
    assert_eq!(json(&body)["error"]["kind"], "too_long");
    let catalog = server.catalog.clone();
    let (status, _dir) = server.terminate();
    assert!(status.success(), "{status:?}");
    // The worker finished after the answer and recorded the failure, not a track.
    assert_eq!(catalog_counts(&catalog), (0, 1));
}

/// Issue #16: the hostile-header family, then uploads that kill their worker process (real
/// crashes, armed by the test hooks), then a good file: every bad one is answered 422 with its
/// record, the server stays up, and the good file is stored.
#[test]
fn hostile_uploads_and_worker_crashes_cost_only_themselves() {
    let server = Server::start_with_env(
        &[
            "--workers",
            "2",
            "--worker-memory",
            "1024",
            "--cpu-budget",
            "5",
        ],
        &[("SONOVEC_TEST_HOOKS", "1")],
    );
    let dir = common::repo_path("tests/fixtures/bad/hostile");
    for row in common::read_csv(&dir.join("expect.csv")) {
        let name = &row["file"];
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let (status, body) = post(
            &server,
            &format!("?name={name}"),
            "application/octet-stream",
            &bytes,
        );
        match row["expect"].as_str() {
            "ok" => assert!(matches!(status, 200 | 201), "{name}: {status} {body}"),
            "error" => assert_eq!(status, 422, "{name}: {body}"),
            _ => assert!(matches!(status, 200 | 201 | 422), "{name}: {status} {body}"),
        }
        if status == 422 {
            let record = json(&body);
            assert!(
                record["error"]["message"].as_str().unwrap().len() > 10,
                "{body}"
            );
        }
    }
    for (marker, kind) in [
        ("SONOVEC-TEST-ABORT", "worker_crashed"),
        ("SONOVEC-TEST-OVERFLOW", "worker_crashed"),
        ("SONOVEC-TEST-ALLOCATE", "worker_crashed"),
        ("SONOVEC-TEST-SPIN", "over_budget"),
    ] {
        let (status, body) = post(
            &server,
            "",
            "audio/wav",
            format!("{marker} upload").as_bytes(),
        );
        assert_eq!(status, 422, "{marker}: {body}");
        assert_eq!(json(&body)["error"]["kind"], kind, "{body}");
        assert_eq!(
            get(&server, "/healthz").0,
            200,
            "the server survives {marker}"
        );
    }
    let good = std::fs::read(common::repo_path("samples/hiphop_92.mp3")).unwrap();
    let (status, body) = post(&server, "?id=good-after-the-storm", "audio/mpeg", &good);
    assert_eq!(status, 201, "{body}");
    let (status, body) = get(&server, "/v1/tracks/good-after-the-storm");
    assert_eq!(status, 200, "{body}");
    assert!(json(&body)["vector"]
        .as_array()
        .is_some_and(|v| !v.is_empty()));
    let catalog = server.catalog.clone();
    let (status, _dir) = server.terminate();
    assert!(status.success(), "{status:?}");
    let (tracks, _failures) = catalog_counts(&catalog);
    assert!(tracks >= 1);
}

#[test]
fn content_stored_with_another_model_gets_a_row_of_its_own() {
    let clip = wav(2.0, 330.0, 16000);
    let first = Server::start(&["--model", "none"]);
    let (status, body) = post(&first, "?id=clip", "audio/wav", &clip);
    assert_eq!(status, 201, "{body}");
    let plain = json(&body)["vector_version"].as_str().unwrap().to_string();
    let (status, dir) = first.terminate();
    assert!(status.success());

    // The same content under MTT: analysed and stored beside the first row, not "known".
    let second = Server::start_in(dir, &["--model", "mtt"], &[]);
    let (status, body) = post(&second, "?id=clip", "audio/wav", &clip);
    assert_eq!(status, 201, "{body}");
    let mtt = json(&body)["vector_version"].as_str().unwrap().to_string();
    assert_ne!(plain, mtt);
    let (status, _) = post(&second, "?id=clip", "audio/wav", &clip);
    assert_eq!(status, 200, "now known under MTT");
    assert_eq!(catalog_counts(&second.catalog), (2, 0));

    // Reads answer with the server's own version, or the one asked for.
    let (status, body) = get(&second, "/v1/tracks/clip");
    assert_eq!(status, 200);
    assert_eq!(json(&body)["vector_version"], mtt.as_str());
    let (status, body) = get(&second, &format!("/v1/tracks/clip?vector_version={plain}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["vector_version"], plain.as_str());
    let (status, body) = get(&second, "/v1/tracks/clip/similar?k=5");
    assert_eq!(status, 200, "{body}");
    let answer = json(&body);
    assert_eq!(
        (
            answer["vector_version"].as_str(),
            answer["searched"].as_u64()
        ),
        (Some(mtt.as_str()), Some(1))
    );
    let (status, _) = get(&second, "/v1/tracks/clip?vector_version=nothing-1");
    assert_eq!(status, 404);
    let (status, _dir) = second.terminate();
    assert!(status.success());
}

/// Worker and queue counts no machine needs are refused by the command line (exit 2), before
/// anything starts: `--queue` sizes a queue allocated whole at the start, and `--workers` or
/// `-j` the threads started.
#[test]
fn worker_and_queue_counts_beyond_their_limits_are_usage_errors() {
    for (args, option) in [
        (&["serve", "--queue", "100000000000"][..], "--queue"),
        (&["serve", "--workers", "1025"][..], "--workers"),
        (&["-j", "1025", "serve"][..], "--jobs"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_sonovec"))
            .args(args)
            .args(["--addr", "127.0.0.1:0", "--catalog"])
            .arg(dir.path().join("catalog.db"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(option), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} started a server");
    }
    // The queue's limit itself is allowed.
    let server = Server::start(&["--model", "none", "--workers", "2", "--queue", "100000"]);
    let (status, _dir) = server.terminate();
    assert!(status.success(), "{status:?}");
}
