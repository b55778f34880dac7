//! Helpers shared by the behaviour tests: run the real `onesec` binary on free ports in a
//! temporary folder, talk to it over HTTP and syslog, load the shared acme scenario and check
//! the incidents onesec opened against its `expected.yaml`.
//!
//! Every test binary uses a different subset of these helpers.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_onesec");

/// Year of the acme day: its RFC 3164 syslog lines carry none.
pub const ACME_YEAR: i32 = 2026;

/// Safety net only (a broken build must not hang CI forever); never asserted as a duration.
const PATIENCE: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// Running onesec
// ---------------------------------------------------------------------------------------------

/// How to start `onesec up`.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--directory`.
    pub directory: Option<PathBuf>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--syslog-year`.
    pub syslog_year: Option<i32>,
    /// `--demo`.
    pub demo: bool,
    /// `ONESEC_LOG` (default `info`).
    pub log: Option<String>,
}

impl Options {
    /// onesec with the acme directory and the acme year for RFC 3164 syslog.
    pub fn acme(data_dir: &Path, acme: &Acme) -> Options {
        Options {
            data_dir: data_dir.to_path_buf(),
            directory: Some(acme.dir.clone()),
            syslog_year: Some(ACME_YEAR),
            ..Options::default()
        }
    }
}

/// A running `onesec up`; killed (SIGKILL) when dropped.
pub struct Onesec {
    child: Option<Child>,
    /// `http://ADDR`.
    pub base: String,
    /// Syslog UDP address.
    pub syslog_udp: Option<SocketAddr>,
    /// Syslog TCP address.
    pub syslog_tcp: Option<SocketAddr>,
    /// Syslog TLS address, when `[syslog] tls` is set.
    pub syslog_tls: Option<SocketAddr>,
    /// SIA DC-09 receiver address, when `[sia] listen` is set.
    pub sia: Option<SocketAddr>,
    /// The data folder it runs on.
    pub data_dir: PathBuf,
    /// Where its stderr (logs) goes.
    pub log_path: PathBuf,
    /// Stdout lines after the listening line.
    pub stdout: Arc<Mutex<Vec<String>>>,
    client: reqwest::blocking::Client,
    /// The admin session, sent with every request.
    token: Option<String>,
}

/// The administrator the helpers create on a first start.
pub const ADMIN: &str = "admin";
/// Their password.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Answer of an HTTP request: status code and body (JSON when it parses, else a string).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Onesec {
    /// Starts `onesec up` on ephemeral ports and waits for its listening line.
    pub fn start(options: &Options) -> Onesec {
        std::fs::create_dir_all(&options.data_dir).expect("create data dir");
        // The log lives beside the data folder so a restart on the same data dir keeps both logs.
        let log_path = unique_log_path(&options.data_dir);
        let log = std::fs::File::create(&log_path).expect("create log file");
        let mut command = Command::new(BIN);
        command
            .arg("up")
            .arg("--data-dir")
            .arg(&options.data_dir)
            .args(["--http", "127.0.0.1:0", "--syslog", "127.0.0.1:0"])
            .env("ONESEC_LOG", options.log.as_deref().unwrap_or("info"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if let Some(dir) = &options.directory {
            command.arg("--directory").arg(dir);
        }
        if let Some(config) = &options.config {
            command.arg("--config").arg(config);
        }
        if let Some(year) = options.syslog_year {
            command.arg("--syslog-year").arg(year.to_string());
        }
        if options.demo {
            command.arg("--demo");
        }
        let mut child = command.spawn().expect("spawn onesec up");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        let rest = Arc::new(Mutex::new(Vec::new()));
        let rest_writer = rest.clone();
        // Keep draining stdout for the whole life of the child, so that a later println! in
        // onesec never hits a closed pipe.
        std::thread::spawn(move || {
            let mut first = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("onesec listening ")
                    && let Some(tx) = first.take()
                {
                    let _ = tx.send(line);
                    continue;
                }
                rest_writer.lock().unwrap().push(line);
            }
        });
        let line = match rx.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "onesec up never printed its listening line (exit: {status:?}); stdout: {:?}\nlog:\n{}",
                    rest.lock().unwrap(),
                    read_tail(&log_path)
                );
            }
        };
        let listening = parse_listening_line(&line);
        let http = listening
            .http
            .unwrap_or_else(|| panic!("no http= in {line:?}"));
        let scheme = if listening.tls { "https" } else { "http" };
        let mut onesec = Onesec {
            child: Some(child),
            base: format!("{scheme}://{http}"),
            syslog_udp: listening.syslog_udp,
            syslog_tcp: listening.syslog_tcp,
            syslog_tls: listening.syslog_tls,
            sia: listening.sia,
            data_dir: options.data_dir.clone(),
            log_path,
            stdout: rest,
            client: http_client(listening.tls.then(|| options.data_dir.join("tls/cert.pem"))),
            token: None,
        };
        onesec.token = onesec.sign_in();
        onesec
    }

    /// `onesec up --demo` in `data_dir`, once its attack is replayed and detected.
    pub fn start_demo(data_dir: &Path) -> Onesec {
        let onesec = Onesec::start(&Options {
            data_dir: data_dir.to_path_buf(),
            demo: true,
            ..Options::default()
        });
        onesec.wait_for_stdout("demo: attack replayed");
        onesec.wait_for_detection(1);
        onesec
    }

    /// Creates the administrator on a first start (with the setup token onesec wrote) and logs
    /// in as them; `None` when authentication is off.
    fn sign_in(&self) -> Option<String> {
        let setup_file = self.data_dir.join("auth/setup-token");
        if let Ok(setup_token) = std::fs::read_to_string(&setup_file) {
            let body = serde_json::json!({
                "setup_token": setup_token.trim(), "user": ADMIN, "password": ADMIN_PASSWORD,
            });
            // Refused when this data folder already has its admin (a restart): fine.
            let _ = self.send(
                self.client
                    .post(format!("{}/api/v1/auth/setup", self.base))
                    .json(&body),
                "setup",
            );
        }
        let body = serde_json::json!({ "user": ADMIN, "password": ADMIN_PASSWORD });
        let url = format!("{}/api/v1/auth/login", self.base);
        let login = answer(self.send(self.client.post(&url).json(&body), "login"));
        match login.status {
            200 => Some(
                login.body["token"]
                    .as_str()
                    .expect("a session token")
                    .to_string(),
            ),
            404 => None,
            other => panic!("login answered {other}: {}", login.body),
        }
    }

    /// An API token with this role, limited to `sites` (none: every site), issued by the admin.
    pub fn issue_token(&self, name: &str, role: &str, sites: &[&str]) -> String {
        let body = serde_json::json!({ "name": name, "role": role, "sites": sites });
        let url = format!("{}/api/v1/tokens", self.base);
        let answer = answer(self.send(self.client.post(&url).json(&body), "POST /api/v1/tokens"));
        assert_eq!(answer.status, 201, "issuing a token: {}", answer.body);
        answer.body["token"].as_str().expect("a token").to_string()
    }

    /// The admin session token (`None` when authentication is off).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A request as the given bearer (or none).
    pub fn request_as(&self, method: reqwest::Method, path: &str, bearer: Option<&str>) -> Answer {
        let url = format!("{}{}", self.base, path);
        let mut request = self.client.request(method, &url);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        answer(self.send_raw(request, &url))
    }

    /// Kills the process with SIGKILL (no clean shutdown) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits for a stdout line (after the listening line) that starts with `prefix`.
    pub fn wait_for_stdout(&self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.starts_with(prefix))
            {
                return line.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "onesec never printed a line starting with {prefix:?}; stdout: {:?}\nlog:\n{}",
                    self.stdout.lock().unwrap(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of onesec's log, for failure messages.
    pub fn log_tail(&self) -> String {
        read_tail(&self.log_path)
    }

    /// Sends a request; a connection failure fails the test with onesec's log.
    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        what: &str,
    ) -> reqwest::blocking::Response {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        self.send_raw(request, what)
    }

    /// Sends a request as it is (no token added).
    fn send_raw(
        &self,
        request: reqwest::blocking::RequestBuilder,
        what: &str,
    ) -> reqwest::blocking::Response {
        request
            .send()
            .unwrap_or_else(|e| panic!("{what}: {e}\nlog:\n{}", self.log_tail()))
    }

    /// `GET base+path`.
    pub fn get(&self, path: &str) -> Answer {
        let url = format!("{}{}", self.base, path);
        answer(self.send(self.client.get(&url), &format!("GET {url}")))
    }

    /// `GET base+path`, which must answer 2xx with JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let answer = self.get(path);
        assert!(
            (200..300).contains(&answer.status),
            "GET {path} answered {}: {}",
            answer.status,
            answer.body
        );
        answer.body
    }

    /// `GET base+path` as text (e.g. /metrics).
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let url = format!("{}{}", self.base, path);
        let response = self.send(self.client.get(&url), &format!("GET {url}"));
        let status = response.status().as_u16();
        (status, response.text().unwrap_or_default())
    }

    /// `POST /api/v1/events?format=FORMAT` with an optional CSV mapping (TOML text).
    pub fn post_events(
        &self,
        format: &str,
        body: impl Into<Vec<u8>>,
        mapping: Option<&str>,
    ) -> Answer {
        let url = format!("{}/api/v1/events?format={format}", self.base);
        let mut request = self.client.post(&url).body(body.into());
        if let Some(mapping) = mapping {
            request = request.header("X-Onesec-Csv-Mapping", base64(mapping.as_bytes()));
        }
        answer(self.send(request, &format!("POST {url}")))
    }

    /// `POST base+path` with an empty body.
    pub fn post_json(&self, path: &str) -> Answer {
        let url = format!("{}{}", self.base, path);
        answer(self.send(self.client.post(&url), &format!("POST {url}")))
    }

    /// Posts one acme record on its own and returns the acknowledged event ids.
    pub fn post_record(&self, record: &Record, acme: &Acme) -> Vec<u64> {
        let mapping = record.is_csv().then_some(acme.mapping.as_str());
        let answer = self.post_events(record.format, record.body(acme), mapping);
        assert_eq!(
            answer.status, 200,
            "{}:{} was refused: {}\nrecord: {}",
            record.file, record.line_no, answer.body, record.text
        );
        acknowledged_ids(&answer.body)
    }

    /// `GET /api/v1/status`.
    pub fn status(&self) -> Value {
        self.get_json("/api/v1/status")
    }

    /// Polls `/api/v1/status` until the journal holds at least `min_events` and detection has
    /// caught up with it. Returns the last status.
    pub fn wait_for_detection(&self, min_events: u64) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = self.status();
            let journal = status["journal_seq"].as_u64().unwrap_or(0);
            let detected = status["detected_seq"].as_u64().unwrap_or(0);
            if journal >= min_events && detected >= journal {
                return status;
            }
            if Instant::now() > deadline {
                let dead = self.get("/api/v1/dead-letters?limit=50").body;
                panic!(
                    "onesec did not reach journal_seq >= {min_events} with detection caught up; last status: {status}\n\
                     dead letters: {dead:#}\nlog:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every stored event (`GET /api/v1/events?limit=100000`).
    pub fn events(&self) -> Vec<Value> {
        match self.get_json("/api/v1/events?limit=100000") {
            Value::Array(events) => events,
            other => panic!("/api/v1/events is not an array: {other}"),
        }
    }

    /// The open incidents with their detail (`incident`, `alerts`, `timeline`).
    pub fn incidents(&self) -> Vec<ActualIncident> {
        let list = self.get_json("/api/v1/incidents?limit=10000");
        let list = list
            .as_array()
            .unwrap_or_else(|| panic!("/api/v1/incidents is not an array: {list}"));
        list.iter()
            .map(|incident| {
                let id = incident["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("incident without id: {incident}"));
                let detail = self.get_json(&format!("/api/v1/incidents/{id}"));
                ActualIncident::from_detail(detail)
            })
            .collect()
    }
}

impl Drop for Onesec {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the binary with `args` (stdin closed) and returns its output.
pub fn cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Output {
    cli_as(args, None)
}

/// Runs `onesec ARGS` with `ONESEC_TOKEN` set (for commands that ask a running onesec).
pub fn cli_as<S: AsRef<std::ffi::OsStr>>(args: &[S], token: Option<&str>) -> std::process::Output {
    let mut command = Command::new(BIN);
    if let Some(token) = token {
        command.env("ONESEC_TOKEN", token);
    }
    command
        .args(args)
        .env("ONESEC_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run onesec")
}

fn answer(response: reqwest::blocking::Response) -> Answer {
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, body }
}

/// The ids an ingest answer acknowledges (`first_id..=last_id`, `accepted` of them).
pub fn acknowledged_ids(report: &Value) -> Vec<u64> {
    let accepted = report["accepted"].as_u64().unwrap_or(0);
    if accepted == 0 {
        return Vec::new();
    }
    let first = report["first_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no first_id in {report}"));
    let last = report["last_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no last_id in {report}"));
    assert_eq!(
        last - first + 1,
        accepted,
        "first_id..=last_id does not hold `accepted` ids: {report}"
    );
    (first..=last).collect()
}

fn unique_log_path(data_dir: &Path) -> PathBuf {
    let parent = data_dir.parent().unwrap_or(data_dir);
    let name = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (0..)
        .map(|n| parent.join(format!("{name}.onesec-{n}.log")))
        .find(|p| !p.exists())
        .expect("a free log name")
}

fn read_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Addresses of the `onesec listening ...` line.
#[derive(Debug, Default)]
pub struct Listening {
    pub http: Option<SocketAddr>,
    /// `tls=on`: the API speaks HTTPS.
    pub tls: bool,
    pub syslog_udp: Option<SocketAddr>,
    pub syslog_tcp: Option<SocketAddr>,
    /// Syslog over TLS (`syslog_tls=`).
    pub syslog_tls: Option<SocketAddr>,
    /// SIA DC-09 receiver (`sia=`).
    pub sia: Option<SocketAddr>,
}

/// A client; with `ca`, one that trusts that certificate (onesec's self-signed one).
fn http_client(ca: Option<PathBuf>) -> reqwest::blocking::Client {
    let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120));
    if let Some(ca) = ca {
        let pem = std::fs::read(&ca).expect("read onesec's certificate");
        let cert = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
        builder = builder.add_root_certificate(cert);
    }
    builder.build().expect("HTTP client")
}

/// Parses `onesec listening http=ADDR syslog_udp=ADDR syslog_tcp=ADDR sia=ADDR data=... rules=N directory=N`.
pub fn parse_listening_line(line: &str) -> Listening {
    let mut listening = Listening::default();
    for word in line.split_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            continue;
        };
        let addr = value.parse::<SocketAddr>().ok();
        match key {
            "http" => listening.http = addr,
            "tls" => listening.tls = value == "on",
            "syslog_udp" => listening.syslog_udp = addr,
            "syslog_tcp" => listening.syslog_tcp = addr,
            "syslog_tls" => listening.syslog_tls = addr,
            "sia" => listening.sia = addr,
            _ => {}
        }
    }
    listening
}

// ---------------------------------------------------------------------------------------------
// Syslog senders
// ---------------------------------------------------------------------------------------------

/// Sends lines newline-framed on one TCP connection, then closes it.
pub fn send_syslog_tcp_newline(addr: SocketAddr, lines: &[String]) {
    let mut stream = TcpStream::connect(addr).expect("connect syslog TCP");
    for line in lines {
        stream.write_all(line.as_bytes()).expect("write syslog");
        stream.write_all(b"\n").expect("write syslog");
    }
    close_tcp(stream);
}

/// Sends lines RFC 6587 octet-counted (`LEN SP MSG`) on one TCP connection, then closes it.
pub fn send_syslog_tcp_octet_counted(addr: SocketAddr, lines: &[String]) {
    let mut stream = TcpStream::connect(addr).expect("connect syslog TCP");
    for line in lines {
        stream
            .write_all(format!("{} {}", line.len(), line).as_bytes())
            .expect("write syslog");
    }
    close_tcp(stream);
}

/// Sends each line as one UDP datagram.
pub fn send_syslog_udp(addr: SocketAddr, lines: &[String]) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind UDP");
    for line in lines {
        socket.send_to(line.as_bytes(), addr).expect("send UDP");
    }
}

/// Sends raw bytes on a TCP connection and closes it (the server may close first).
pub fn send_tcp_bytes(addr: SocketAddr, bytes: &[u8]) {
    let mut stream = TcpStream::connect(addr).expect("connect syslog TCP");
    let _ = stream.write_all(bytes);
    close_tcp(stream);
}

fn close_tcp(mut stream: TcpStream) {
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    // Wait for the server to close its side, so every frame has been read before we return.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut sink = [0u8; 256];
    while let Ok(n) = stream.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The acme scenario
// ---------------------------------------------------------------------------------------------

/// The shared acme scenario (`../shared/scenarios/acme`).
pub struct Acme {
    pub dir: PathBuf,
    /// `access-mapping.toml`.
    pub mapping: String,
    /// Header line of `day-access.csv`.
    pub csv_header: String,
}

/// One record of an acme file: a line (a CSV row without its header).
#[derive(Clone, Debug)]
pub struct Record {
    pub file: &'static str,
    /// 1-based line number in the file.
    pub line_no: usize,
    /// Format to post it with.
    pub format: &'static str,
    pub text: String,
}

impl Record {
    pub fn is_csv(&self) -> bool {
        self.format == "access-csv"
    }

    /// The HTTP body that carries this record alone (CSV rows get the header).
    pub fn body(&self, acme: &Acme) -> Vec<u8> {
        if self.is_csv() {
            format!("{}\n{}\n", acme.csv_header, self.text).into_bytes()
        } else {
            format!("{}\n", self.text).into_bytes()
        }
    }
}

/// The event files of the scenario and how they are posted one record at a time.
pub const ACME_FILES: [(&str, &str); 4] = [
    ("day-syslog.log", "syslog"),
    ("day-windows.jsonl", "auto"),
    ("day-onvif.jsonl", "auto"),
    ("day-access.csv", "access-csv"),
];

impl Acme {
    /// The scenario, or `None` (test skipped) when the shared data is absent.
    pub fn load() -> Option<Acme> {
        let dir = onesec_testdata::shared("scenarios/acme")?;
        let mapping = std::fs::read_to_string(dir.join("access-mapping.toml"))
            .expect("read access-mapping.toml");
        let csv = std::fs::read_to_string(dir.join("day-access.csv")).expect("read day-access.csv");
        let csv_header = csv
            .lines()
            .next()
            .expect("day-access.csv has a header")
            .to_string();
        Some(Acme {
            dir,
            mapping,
            csv_header,
        })
    }

    /// Path of a scenario file.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The non-empty lines of a file (for CSV: without the header).
    pub fn lines(&self, name: &str) -> Vec<String> {
        let text =
            std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"));
        let skip = usize::from(name.ends_with(".csv"));
        text.lines()
            .skip(skip)
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Every record of every event file, in file order.
    pub fn records(&self) -> Vec<Record> {
        let mut records = Vec::new();
        for (file, format) in ACME_FILES {
            let text = std::fs::read_to_string(self.path(file))
                .unwrap_or_else(|e| panic!("read {file}: {e}"));
            for (index, line) in text.lines().enumerate() {
                if line.trim().is_empty() || (format == "access-csv" && index == 0) {
                    continue;
                }
                records.push(Record {
                    file,
                    line_no: index + 1,
                    format,
                    text: line.to_string(),
                });
            }
        }
        records
    }

    /// The incidents `expected.yaml` requires.
    pub fn expected(&self) -> Vec<ExpectedIncident> {
        let text = std::fs::read_to_string(self.path("expected.yaml")).expect("read expected.yaml");
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("expected.yaml is YAML");
        let incidents = yaml["incidents"]
            .as_sequence()
            .expect("expected.yaml has an `incidents` list");
        let text_of = |item: &serde_yaml::Value, key: &str| -> Option<String> {
            match &item[key] {
                serde_yaml::Value::Null => None,
                serde_yaml::Value::String(s) => Some(s.clone()),
                other => Some(
                    serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                ),
            }
        };
        incidents
            .iter()
            .map(|item| ExpectedIncident {
                id: text_of(item, "id").unwrap_or_default(),
                domain: text_of(item, "domain").expect("every expected incident has a domain"),
                person: text_of(item, "person"),
                site: text_of(item, "site"),
                zone: text_of(item, "zone"),
                priority: text_of(item, "priority"),
                must_include: item["must_include"]
                    .as_sequence()
                    .map(|s| {
                        s.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// One entry of `expected.yaml`'s `incidents`.
#[derive(Clone, Debug)]
pub struct ExpectedIncident {
    pub id: String,
    pub domain: String,
    pub person: Option<String>,
    pub site: Option<String>,
    pub zone: Option<String>,
    pub priority: Option<String>,
    pub must_include: Vec<String>,
}

impl ExpectedIncident {
    /// Every `HH:MM:SS` time named by `must_include`.
    pub fn required_times(&self) -> Vec<String> {
        let mut times = Vec::new();
        for entry in &self.must_include {
            times.extend(time_tokens(entry));
        }
        times
    }

    /// Why `actual` is not this incident (empty when it matches).
    pub fn mismatches(&self, actual: &ActualIncident) -> Vec<String> {
        let mut why = Vec::new();
        if actual.domain != self.domain {
            why.push(format!("domain {} != {}", actual.domain, self.domain));
        }
        let entity = |name: &str,
                      wanted: &Option<String>,
                      have: &BTreeSet<String>,
                      why: &mut Vec<String>| {
            if let Some(wanted) = wanted
                && !have.contains(wanted)
            {
                why.push(format!("{name} {wanted} not in {have:?}"));
            }
        };
        entity("person", &self.person, &actual.persons, &mut why);
        entity("site", &self.site, &actual.sites, &mut why);
        entity("zone", &self.zone, &actual.zones, &mut why);
        if let Some(priority) = &self.priority
            && &actual.priority != priority
        {
            why.push(format!("priority {} != {priority}", actual.priority));
        }
        let times: BTreeSet<&str> = actual.timeline.iter().map(|e| e.hms.as_str()).collect();
        let missing: Vec<String> = self
            .required_times()
            .into_iter()
            .filter(|t| !times.contains(t.as_str()))
            .collect();
        if !missing.is_empty() {
            why.push(format!("timeline lacks events at {missing:?}"));
        }
        why
    }

    fn describe(&self) -> String {
        let mut text = format!("{} domain={}", self.id, self.domain);
        for (key, value) in [
            ("person", &self.person),
            ("site", &self.site),
            ("zone", &self.zone),
            ("priority", &self.priority),
        ] {
            if let Some(value) = value {
                text.push_str(&format!(" {key}={value}"));
            }
        }
        text.push_str(&format!(" times={:?}", self.required_times()));
        text
    }
}

/// Every `HH:MM:SS` token in a text (`15:20:01-15:20:18` gives two, `16:40` none).
pub fn time_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == ':'))
        .filter(|word| {
            let b = word.as_bytes();
            b.len() == 8
                && b[2] == b':'
                && b[5] == b':'
                && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
        })
        .map(str::to_string)
        .collect()
}

/// An incident onesec opened, with its timeline.
#[derive(Clone, Debug)]
pub struct ActualIncident {
    pub id: String,
    pub title: String,
    pub domain: String,
    pub priority: String,
    pub state: String,
    pub persons: BTreeSet<String>,
    pub sites: BTreeSet<String>,
    pub zones: BTreeSet<String>,
    pub alerts: Vec<String>,
    pub timeline: Vec<TimelineEntry>,
}

/// One event of an incident's timeline.
#[derive(Clone, Debug)]
pub struct TimelineEntry {
    pub id: u64,
    pub time: String,
    /// `HH:MM:SS` of `time`.
    pub hms: String,
    pub domain: String,
    pub activity: String,
    pub person: String,
    pub site: String,
    pub zone: String,
    pub raw: String,
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl ActualIncident {
    /// From `GET /api/v1/incidents/{id}`.
    pub fn from_detail(detail: Value) -> ActualIncident {
        let incident = &detail["incident"];
        let entities = &incident["entities"];
        let timeline = detail["timeline"]
            .as_array()
            .unwrap_or_else(|| panic!("incident detail without a timeline array: {detail}"))
            .iter()
            .map(|event| {
                let time = text(&event["time"]);
                TimelineEntry {
                    id: event["id"].as_u64().unwrap_or(0),
                    hms: time.get(11..19).unwrap_or("").to_string(),
                    time,
                    domain: text(&event["domain"]),
                    activity: text(&event["activity"]),
                    person: text(&event["person"]),
                    site: text(&event["site"]),
                    zone: text(&event["zone"]),
                    raw: text(&event["raw"]),
                }
            })
            .collect();
        ActualIncident {
            id: text(&incident["id"]),
            title: text(&incident["title"]),
            domain: text(&incident["domain"]),
            priority: text(&incident["priority"]),
            state: text(&incident["state"]),
            persons: strings(&entities["persons"]),
            sites: strings(&entities["sites"]),
            zones: strings(&entities["zones"]),
            alerts: detail["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    format!(
                        "[{}/{}] {}",
                        text(&a["severity"]),
                        text(&a["status"]),
                        text(&a["title"])
                    )
                })
                .collect(),
            timeline,
        }
    }

    fn describe(&self) -> String {
        let mut out = format!(
            "{} domain={} priority={} state={} persons={:?} sites={:?} zones={:?}\n    title: {}\n",
            self.id,
            self.domain,
            self.priority,
            self.state,
            self.persons,
            self.sites,
            self.zones,
            self.title
        );
        for alert in &self.alerts {
            out.push_str(&format!("    alert {alert}\n"));
        }
        for e in &self.timeline {
            let raw: String = e.raw.chars().take(110).collect();
            out.push_str(&format!(
                "    {} {:<8} {:<16} person={:<5} site={:<4} zone={:<10} {}\n",
                e.time, e.domain, e.activity, e.person, e.site, e.zone, raw
            ));
        }
        out
    }
}

/// Checks onesec's open incidents against `expected`: as many incidents as expected, and each
/// expected incident matches exactly one actual incident (domain, person, site, zone, priority
/// when given, and an event at every `HH:MM:SS` named by `must_include`), no two expected
/// incidents on the same actual one. Panics with a readable diff otherwise; returns the ids.
pub fn check_incidents(actual: &[ActualIncident], expected: &[ExpectedIncident]) -> Vec<String> {
    let mut problems = Vec::new();
    if actual.len() != expected.len() {
        problems.push(format!(
            "{} incident(s) open, {} expected",
            actual.len(),
            expected.len()
        ));
    }
    let mut matched: Vec<Option<&ActualIncident>> = Vec::new();
    for exp in expected {
        let candidates: Vec<&ActualIncident> = actual
            .iter()
            .filter(|a| exp.mismatches(a).is_empty())
            .collect();
        match candidates.len() {
            1 => matched.push(Some(candidates[0])),
            0 => {
                let mut text = format!("{}: no incident matches; closest:", exp.id);
                let mut ranked: Vec<(Vec<String>, &ActualIncident)> =
                    actual.iter().map(|a| (exp.mismatches(a), a)).collect();
                ranked.sort_by_key(|(why, _)| why.len());
                for (why, a) in ranked.iter().take(2) {
                    text.push_str(&format!("\n      {}: {}", a.id, why.join("; ")));
                }
                problems.push(text);
                matched.push(None);
            }
            n => {
                let ids: Vec<&str> = candidates.iter().map(|a| a.id.as_str()).collect();
                problems.push(format!(
                    "{}: {n} incidents match (duplicates): {ids:?}",
                    exp.id
                ));
                matched.push(None);
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (exp, actual) in expected.iter().zip(&matched) {
        if let Some(a) = actual
            && !seen.insert(a.id.clone())
        {
            problems.push(format!(
                "{}: its incident {} also stands for another expected incident",
                exp.id, a.id
            ));
        }
    }
    if !problems.is_empty() {
        let mut report = String::from("incidents differ from expected.yaml:\n");
        for p in &problems {
            report.push_str(&format!("  - {p}\n"));
        }
        report.push_str("\nexpected:\n");
        for exp in expected {
            report.push_str(&format!("  {}\n", exp.describe()));
        }
        report.push_str("\nactual:\n");
        for a in actual {
            report.push_str(&format!("  {}", a.describe()));
        }
        panic!("{report}");
    }
    matched
        .into_iter()
        .flatten()
        .map(|a| a.id.clone())
        .collect()
}

/// The acme check against a running onesec: no refused input, then [`check_incidents`].
pub fn check_acme(onesec: &Onesec, acme: &Acme) -> Vec<String> {
    let dead = onesec.get_json("/api/v1/dead-letters?limit=100");
    assert_eq!(
        dead.as_array().map(Vec::len),
        Some(0),
        "acme input was refused: {dead:#}"
    );
    check_incidents(&onesec.incidents(), &acme.expected())
}

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

/// xorshift64* for reproducible shuffles (`new`, `next_u64`, `shuffle`).
// Every test binary includes this module; only some shuffle.
#[allow(unused_imports)]
pub use onesec_testdata::XorShift64Star as XorShift;

/// Standard base64 with padding (for the `X-Onesec-Csv-Mapping` header).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sends the acme day to a running onesec the way a user would: `onesec replay --server URL`
/// for the syslog, Windows and ONVIF files, then the access-control CSV with its mapping.
pub fn replay_acme_day(onesec: &Onesec, acme: &Acme) {
    let path = |name: &str| acme.path(name).to_string_lossy().into_owned();
    let (syslog, windows, onvif, csv, mapping) = (
        path("day-syslog.log"),
        path("day-windows.jsonl"),
        path("day-onvif.jsonl"),
        path("day-access.csv"),
        path("access-mapping.toml"),
    );
    for args in [
        vec![
            "replay",
            "--server",
            &onesec.base,
            &syslog,
            &windows,
            &onvif,
        ],
        vec![
            "replay",
            "--server",
            &onesec.base,
            &csv,
            "--mapping",
            &mapping,
        ],
    ] {
        let output = cli_as(&args, onesec.token());
        assert!(
            output.status.success(),
            "{args:?} failed ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

/// A TLS client configuration that trusts only onesec's certificate at `cert` (PEM).
pub fn tls_client(cert: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert).expect("onesec's certificate") {
        roots.add(cert.expect("a PEM certificate")).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}
