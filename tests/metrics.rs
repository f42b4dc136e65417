//! `--metrics ADDR`: a real Prometheus (Debian's prometheus package) scrapes a running rtrace on
//! 127.0.0.1 and the test reads a count back through Prometheus's HTTP API (as root).

mod common;

use common::{command, kernel_test, temp_path, Running};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

/// A GET over plain HTTP/1.0; the body, or `None` when nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("local addr").port()
}

/// Kills a helper process when the test ends, however it ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_scrapes_a_count() {
    kernel_test(|| {
        // The workload: getppid() 7 times once the gate exists, then it waits to be killed.
        let gate = temp_path("metrics-gate");
        let workload = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(format!(
                "import os, time\nwhile not os.path.exists('{}'): time.sleep(0.005)\n\
                 for _ in range(7): os.getppid()\ntime.sleep(120)",
                gate.display()
            ))
            .spawn()
            .expect("python3");
        let workload = Killed(workload);
        let pid = workload.0.id().to_string();

        let mut rtrace = Running::start(command(
            BIN,
            &[
                "--metrics",
                "127.0.0.1:0",
                "-e",
                "tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls = count(); }",
                &pid,
            ],
        ));
        rtrace.wait_for_stdout("Attaching 1 probe...");
        let deadline = Instant::now() + Duration::from_secs(10);
        let port: u16 = loop {
            let line = rtrace
                .stderr()
                .lines()
                .find_map(|l| l.strip_prefix("Serving metrics on http://127.0.0.1:"))
                .and_then(|rest| rest.strip_suffix("/metrics"))
                .and_then(|p| p.parse().ok());
            if let Some(p) = line {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "no metrics address:\n{}",
                rtrace.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        std::fs::write(&gate, b"").expect("gate");

        // rtrace itself answers first.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let body = http_get(port, "/metrics").unwrap_or_default();
            if body.contains("rtrace_calls_total 7\n") {
                assert!(body.starts_with("# TYPE rtrace_calls counter\n"), "{body}");
                assert!(body.ends_with("# EOF\n"), "{body}");
                break;
            }
            assert!(Instant::now() < deadline, "rtrace's /metrics:\n{body}");
            std::thread::sleep(Duration::from_millis(50));
        }

        // Then Prometheus scrapes it and answers a query.
        let dir = temp_path("prometheus");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: rtrace\n    \
                 static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
            ),
        )
        .expect("config");
        let web = free_port();
        let prometheus = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is needed for this test (apt-get install -y prometheus)");
        let prometheus = Killed(prometheus);
        let deadline = Instant::now() + Duration::from_secs(60);
        let answer = loop {
            let body = http_get(web, "/api/v1/query?query=rtrace_calls_total").unwrap_or_default();
            // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[T,"7"]}]}}
            if body.contains("\"value\":[") {
                break body;
            }
            assert!(Instant::now() < deadline, "Prometheus has no value: {body}");
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(answer.contains("\"job\":\"rtrace\""), "{answer}");
        assert!(answer.ends_with(",\"7\"]}]}}"), "{answer}");
        drop(prometheus);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&gate);

        rtrace.signal(libc::SIGINT);
        let out = rtrace.finish();
        out.expect_code(0);
        assert!(out.stdout.ends_with("@calls: 7\n"), "{}", out.stdout);
        drop(workload);
    });
}
