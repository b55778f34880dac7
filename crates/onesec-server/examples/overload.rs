//! Overload benchmark: memory under 10× the load the service sustains.
//!
//! ```text
//! cargo run --release -p onesec-server --example overload -- [--secs 60] [--nominal-secs 20]
//!     [--factor 10] [--mqtt mqtt://127.0.0.1:1883 | --no-mqtt]
//! ```
//!
//! The service runs in a child process (this program started again with `--serve`): the
//! pipeline and every listener as `onesec up` starts them (embedded journal and SQLite store,
//! authentication on, mimalloc), with HTTP, syslog UDP, syslog TCP and, when the broker is
//! reachable, the MQTT source. This process is the load and the observer:
//!
//! 1. calibration: one syslog TCP sender writes as fast as the service takes (TCP flow
//!    control holds it back), for 10 s; the journaled rate is what the service sustains, C;
//! 2. nominal: C offered, split evenly over the sources, for `--nominal-secs`;
//! 3. overload: `--factor` × C offered the same way for `--secs`;
//! 4. drain: the senders stop; once the journal no longer grows and detection has caught up,
//!    the counts are checked: every event an HTTP answer acknowledged, every line TCP took and
//!    every datagram neither dropped nor lost is journaled and in the store's event index.
//!
//! The child's VmRSS and VmHWM (`/proc/PID/status`) are sampled every 200 ms throughout.
//! Senders are open-loop: HTTP requests refused with 503 are counted, not retried; a TCP
//! sender that cannot write keeps the rest as its own backlog (counted as held back); UDP
//! datagrams go out at the offered rate whatever happens to them. Results go to stdout;
//! `docs/benchmarks.md` ("Overload: memory under 10× load") has a run.
//!
//! To see what holds the memory, run the service under a heap profiler:
//! `OVERLOAD_WRAPPER="heaptrack -o /tmp/overload"` starts the child under that command (the
//! samples follow the service's own pid, which it reports). heaptrack sees `malloc`, not
//! mimalloc: remove the `#[global_allocator]` below for such a run.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines per HTTP request.
const HTTP_BATCH: u64 = 100;
/// Concurrent HTTP senders (the service takes 64 ingest requests at once by default).
const HTTP_WORKERS: usize = 160;
/// RSS sampling period.
const SAMPLE: Duration = Duration::from_millis(200);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return match serve(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("serve: {error}");
                ExitCode::FAILURE
            }
        };
    }
    match drive(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            println!("COUNT CHECK FAILED");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("overload: {error}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ---------------------------------------------------------------------------------------------
// The service (child process)

/// Runs the service on free ports; prints `READY <json>`; answers `count` on stdin with
/// `COUNT <json>`; stops at `quit` or end of input.
fn serve(args: &[String]) -> Result<(), BoxError> {
    let data_dir = args.first().ok_or("--serve DATA_DIR [MQTT_URL]")?;
    let mut config = onesec_pipeline::Config {
        data_dir: data_dir.into(),
        ..onesec_pipeline::Config::default()
    };
    config.http.listen = "127.0.0.1:0".into();
    config.syslog.udp = "127.0.0.1:0".into();
    config.syslog.tcp = "127.0.0.1:0".into();
    if let Some(url) = args.get(1) {
        let id = std::process::id();
        config.mqtt.url = url.clone();
        config.mqtt.topics = vec![format!("onesec-overload/{id}/#")];
        config.mqtt.client_id = format!("onesec-overload-{id}");
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let pipeline = Arc::new(
            tokio::task::spawn_blocking(move || onesec_pipeline::Pipeline::start(config)).await??,
        );
        let server = onesec_server::start(pipeline.clone(), pipeline.config()).await?;
        let ready = serde_json::json!({
            "pid": std::process::id(),
            "http": server.http,
            "udp": server.syslog_udp,
            "tcp": server.syslog_tcp,
            "setup_token": server.setup_token,
        });
        println!("READY {ready}");
        std::io::stdout().flush()?;
        let p = pipeline.clone();
        tokio::task::spawn_blocking(move || -> Result<(), BoxError> {
            for line in std::io::stdin().lock().lines() {
                match line?.trim() {
                    "count" => {
                        p.wait_detected(Duration::from_secs(30));
                        let status = p.status();
                        let stored = p.read_store(|s| s.event_count())?;
                        let answer = serde_json::json!({
                            "journal_seq": status.journal_seq,
                            "detected_seq": status.detected_seq,
                            "stored": stored,
                            "sources": p.sources(),
                        });
                        println!("COUNT {answer}");
                    }
                    "sources" => {
                        let answer = serde_json::json!({
                            "journal_seq": p.status().journal_seq,
                            "detected_seq": p.status().detected_seq,
                            "sources": p.sources(),
                        });
                        println!("SOURCES {answer}");
                    }
                    "quit" => break,
                    other => eprintln!("serve: unknown command {other:?}"),
                }
                std::io::stdout().flush()?;
            }
            Ok(())
        })
        .await??;
        server.abort();
        tokio::task::spawn_blocking(move || pipeline.shutdown()).await?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// The load and the observer (parent process)

struct Options {
    overload_secs: u64,
    nominal_secs: u64,
    calibration_secs: u64,
    factor: u64,
    mqtt: Option<String>,
}

fn options(args: &[String]) -> Result<Options, BoxError> {
    let mut o = Options {
        overload_secs: 60,
        nominal_secs: 20,
        calibration_secs: 10,
        factor: 10,
        mqtt: Some("mqtt://127.0.0.1:1883".into()),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--secs" => o.overload_secs = value()?.parse()?,
            "--nominal-secs" => o.nominal_secs = value()?.parse()?,
            "--calibration-secs" => o.calibration_secs = value()?.parse()?,
            "--factor" => o.factor = value()?.parse()?,
            "--mqtt" => o.mqtt = Some(value()?.clone()),
            "--no-mqtt" => o.mqtt = None,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(o)
}

/// The child and its command line.
struct Service {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Service {
    fn ask(&mut self, command: &str, prefix: &str) -> Result<serde_json::Value, BoxError> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                return Err("the service exited".into());
            }
            if let Some(json) = line.trim().strip_prefix(prefix) {
                return Ok(serde_json::from_str(json.trim())?);
            }
        }
    }

    fn sources(&mut self) -> Result<Counts, BoxError> {
        Ok(Counts::from(&self.ask("sources", "SOURCES")?))
    }
}

/// The service's counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    journal: u64,
    detected: u64,
    http: u64,
    tcp: u64,
    udp_received: u64,
    udp_decoded: u64,
    udp_dropped: u64,
    mqtt: u64,
    dead_lettered: u64,
}

impl From<&serde_json::Value> for Counts {
    fn from(v: &serde_json::Value) -> Counts {
        let mut c = Counts {
            journal: v["journal_seq"].as_u64().unwrap_or(0),
            detected: v["detected_seq"].as_u64().unwrap_or(0),
            ..Counts::default()
        };
        for s in v["sources"].as_array().into_iter().flatten() {
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            c.dead_lettered += n("dead_lettered");
            match s["source"].as_str().unwrap_or("") {
                "http" => c.http = n("decoded"),
                "syslog-tcp" => c.tcp = n("decoded"),
                "syslog-udp" => {
                    c.udp_received = n("received");
                    c.udp_decoded = n("decoded");
                    c.udp_dropped = n("dropped");
                }
                "mqtt" => c.mqtt = n("decoded"),
                _ => {}
            }
        }
        c
    }
}

/// What the senders did, summed over the run.
#[derive(Default)]
struct Sent {
    tcp_offered: AtomicU64,
    tcp_written: AtomicU64,
    udp_sent: AtomicU64,
    http_offered: AtomicU64,
    http_accepted: AtomicU64,
    http_refused: AtomicU64,
    http_requests_503: AtomicU64,
    http_other: AtomicU64,
    mqtt_published: AtomicU64,
    mqtt_acked: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
struct SentSnapshot {
    tcp_offered: u64,
    tcp_written: u64,
    udp_sent: u64,
    http_offered: u64,
    http_accepted: u64,
    http_refused: u64,
    http_requests_503: u64,
    http_other: u64,
    mqtt_published: u64,
    mqtt_acked: u64,
}

impl Sent {
    fn snapshot(&self) -> SentSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SentSnapshot {
            tcp_offered: l(&self.tcp_offered),
            tcp_written: l(&self.tcp_written),
            udp_sent: l(&self.udp_sent),
            http_offered: l(&self.http_offered),
            http_accepted: l(&self.http_accepted),
            http_refused: l(&self.http_refused),
            http_requests_503: l(&self.http_requests_503),
            http_other: l(&self.http_other),
            mqtt_published: l(&self.mqtt_published),
            mqtt_acked: l(&self.mqtt_acked),
        }
    }
}

/// The offered rate per source, changed at each phase; senders restart their schedule when
/// `phase` changes.
#[derive(Default)]
struct Control {
    rate: AtomicU64,
    phase: AtomicU64,
    stop: AtomicBool,
    /// Calibration: the TCP sender writes as fast as it can.
    flat_out: AtomicBool,
}

/// Open-loop schedule: how many events are due since the phase began.
struct Schedule {
    phase: u64,
    start: Instant,
    taken: u64,
}

impl Schedule {
    fn new() -> Schedule {
        Schedule {
            phase: u64::MAX,
            start: Instant::now(),
            taken: 0,
        }
    }

    /// Events due now (resets when the phase changed); `None` once the run stops.
    fn due(&mut self, control: &Control) -> Option<u64> {
        if control.stop.load(Ordering::Relaxed) {
            return None;
        }
        let phase = control.phase.load(Ordering::Relaxed);
        if phase != self.phase {
            self.phase = phase;
            self.start = Instant::now();
            self.taken = 0;
        }
        let rate = control.rate.load(Ordering::Relaxed) as f64;
        let due = (rate * self.start.elapsed().as_secs_f64()) as u64;
        Some(due.saturating_sub(self.taken))
    }
}

fn line(source: &str, i: u64) -> String {
    format!(
        "<38>Mar 10 16:40:15 gw-{source} sshd[7100]: Failed password for user{} from 203.0.113.{} port {} ssh2",
        i % 5000,
        i % 250 + 1,
        i % 60_000 + 1024
    )
}

fn tcp_sender(addr: SocketAddr, control: Arc<Control>, sent: Arc<Sent>) -> Result<(), BoxError> {
    let mut stream = TcpStream::connect(addr)?;
    let mut schedule = Schedule::new();
    let mut i = 0u64;
    let mut buf = String::new();
    loop {
        let flat_out = control.flat_out.load(Ordering::Relaxed);
        let Some(due) = schedule.due(&control) else {
            return Ok(());
        };
        let n = if flat_out { 1000 } else { due.min(1000) };
        if n == 0 {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        buf.clear();
        for _ in 0..n {
            buf.push_str(&line("tcp", i));
            buf.push('\n');
            i += 1;
        }
        // Blocks while the service reads no further (TCP flow control).
        stream.write_all(buf.as_bytes())?;
        schedule.taken += n;
        sent.tcp_written.fetch_add(n, Ordering::Relaxed);
    }
}

fn udp_sender(addr: SocketAddr, control: Arc<Control>, sent: Arc<Sent>) -> Result<(), BoxError> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let mut schedule = Schedule::new();
    let mut i = 0u64;
    loop {
        let Some(due) = schedule.due(&control) else {
            return Ok(());
        };
        if due == 0 {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        // Bursts of at most 20, as in tests/backpressure.rs: the host's loopback backlog
        // (netdev_max_backlog) drops longer bursts before the socket, where no receiver sees it.
        for _ in 0..due.min(20) {
            socket.send_to(line("udp", i).as_bytes(), addr)?;
            i += 1;
            schedule.taken += 1;
            sent.udp_sent.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::yield_now();
    }
}

async fn http_senders(
    addr: SocketAddr,
    token: String,
    control: Arc<Control>,
    sent: Arc<Sent>,
) -> Result<(), BoxError> {
    let url = format!("http://{addr}/api/v1/events?format=syslog");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(HTTP_WORKERS)
        .build()?;
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..16u64)
            .map(|b| {
                (0..HTTP_BATCH)
                    .map(|j| line("http", b * HTTP_BATCH + j) + "\n")
                    .collect()
            })
            .collect(),
    );
    let (tx, rx) = async_channel(HTTP_WORKERS);
    let mut workers = Vec::new();
    for _ in 0..HTTP_WORKERS {
        let (client, url, token, bodies, sent, rx) = (
            client.clone(),
            url.clone(),
            token.clone(),
            bodies.clone(),
            sent.clone(),
            rx.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let next = rx.lock().await.recv().await;
                let Some(k) = next else { return };
                let body = bodies[(k % bodies.len() as u64) as usize].clone();
                sent.http_offered.fetch_add(HTTP_BATCH, Ordering::Relaxed);
                match client
                    .post(&url)
                    .bearer_auth(&token)
                    .body(body)
                    .send()
                    .await
                {
                    Ok(answer) if answer.status() == 200 => {
                        let accepted = answer
                            .json::<serde_json::Value>()
                            .await
                            .ok()
                            .and_then(|v| v["accepted"].as_u64())
                            .unwrap_or(0);
                        sent.http_accepted.fetch_add(accepted, Ordering::Relaxed);
                    }
                    Ok(answer) if answer.status() == 503 => {
                        sent.http_refused.fetch_add(HTTP_BATCH, Ordering::Relaxed);
                        sent.http_requests_503.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(answer) => {
                        eprintln!("http: {}", answer.status());
                        sent.http_other.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        eprintln!("http: {error}");
                        sent.http_other.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    // The dispatcher: a batch is offered when it is due and a sender is free; when every
    // sender is busy, the offered rate falls short of the target (reported as offered).
    let mut schedule = Schedule::new();
    let mut k = 0u64;
    while let Some(due) = schedule.due(&control) {
        for _ in 0..due / HTTP_BATCH {
            if tx.try_send(k).is_err() {
                break;
            }
            k += 1;
            schedule.taken += HTTP_BATCH;
        }
        // Batches not handed out in time are not owed later.
        if let Some(again) = schedule.due(&control)
            && again > 4 * HTTP_BATCH
        {
            schedule.taken += again - again % HTTP_BATCH;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(tx);
    for worker in workers {
        worker.await?;
    }
    Ok(())
}

type Shared<T> = Arc<tokio::sync::Mutex<T>>;

fn async_channel(
    capacity: usize,
) -> (
    tokio::sync::mpsc::Sender<u64>,
    Shared<tokio::sync::mpsc::Receiver<u64>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
    (tx, Arc::new(tokio::sync::Mutex::new(rx)))
}

async fn mqtt_sender(
    url: String,
    control: Arc<Control>,
    sent: Arc<Sent>,
    topic: String,
) -> Result<(), BoxError> {
    let (host, port) =
        onesec_server::mqtt::broker_address(&url).ok_or(format!("bad MQTT url {url}"))?;
    let mut options = rumqttc::MqttOptions::new(
        format!("onesec-overload-load-{}", std::process::id()),
        host,
        port,
    );
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(200);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 1000);
    let acks = sent.clone();
    let poller = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                    acks.mqtt_acked.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(error) => {
                    eprintln!("mqtt load: {error}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    let mut schedule = Schedule::new();
    let mut i = 0u64;
    while let Some(due) = schedule.due(&control) {
        if due == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        for _ in 0..due.min(100) {
            // Waits while the client's request queue is full.
            client
                .publish(&topic, rumqttc::QoS::AtLeastOnce, false, line("mqtt", i))
                .await?;
            i += 1;
            schedule.taken += 1;
            sent.mqtt_published.fetch_add(1, Ordering::Relaxed);
        }
    }
    // Let the last acknowledgements arrive.
    let published = sent.mqtt_published.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent.mqtt_acked.load(Ordering::Relaxed) < published && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    poller.abort();
    Ok(())
}

/// VmRSS and VmHWM of `pid`, KiB.
fn memory(pid: u32) -> Option<(u64, u64)> {
    memory_with_anon(pid).map(|(rss, hwm, _)| (rss, hwm))
}

/// VmRSS, VmHWM and RssAnon (heap and stacks: what a buffer would grow) of `pid`, KiB.
fn memory_with_anon(pid: u32) -> Option<(u64, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?, field("RssAnon:")?))
}

#[derive(Clone, Copy)]
struct Sample {
    secs: f64,
    phase: u64,
    rss_kib: u64,
    hwm_kib: u64,
    anon_kib: u64,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn mqtt_reachable(url: &str) -> bool {
    let Some((host, port)) = onesec_server::mqtt::broker_address(url) else {
        return false;
    };
    let Ok(mut addrs) = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)) else {
        return false;
    };
    addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

const PHASES: [&str; 5] = ["start", "calibration", "nominal", "overload", "drain"];

fn drive(args: &[String]) -> Result<bool, BoxError> {
    let mut o = options(args)?;
    if let Some(url) = &o.mqtt
        && !mqtt_reachable(url)
    {
        println!("MQTT broker {url} not reachable: MQTT left out");
        o.mqtt = None;
    }
    let data = tempfile::tempdir()?;
    let mut command = service_command()?;
    command.arg("--serve").arg(data.path());
    if let Some(url) = &o.mqtt {
        command.arg(url);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .env("RUST_LOG", "warn")
        .spawn()?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let pid = child.id();
    let mut service = Service {
        child,
        stdin,
        stdout,
    };
    let result = run(&o, &mut service, pid);
    let _ = writeln!(service.stdin, "quit");
    let _ = service.stdin.flush();
    let deadline = Instant::now() + Duration::from_secs(30);
    while service.child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            service.child.kill()?;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    result
}

/// This program again, or under the command in `OVERLOAD_WRAPPER` (a profiler such as
/// `heaptrack -o /tmp/overload`; the service's own pid comes in its READY line).
fn service_command() -> Result<Command, BoxError> {
    let exe = std::env::current_exe()?;
    let wrapper = std::env::var("OVERLOAD_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let Some(program) = words.next() else {
        return Ok(Command::new(exe));
    };
    let mut command = Command::new(program);
    command.args(words).arg(exe);
    Ok(command)
}

fn run(o: &Options, service: &mut Service, pid: u32) -> Result<bool, BoxError> {
    let ready = {
        let mut line = String::new();
        loop {
            line.clear();
            if service.stdout.read_line(&mut line)? == 0 {
                return Err("the service exited before it was ready".into());
            }
            if let Some(json) = line.trim().strip_prefix("READY") {
                break serde_json::from_str::<serde_json::Value>(json.trim())?;
            }
        }
    };
    // The service's own pid: under a wrapper it is not the child's.
    let pid = ready["pid"].as_u64().map_or(pid, |p| p as u32);
    let addr = |k: &str| -> Result<SocketAddr, BoxError> {
        Ok(ready[k].as_str().ok_or(format!("no {k}"))?.parse()?)
    };
    let (http, udp, tcp) = (addr("http")?, addr("udp")?, addr("tcp")?);
    let runtime = tokio::runtime::Runtime::new()?;
    let token = runtime.block_on(sign_in(http, ready["setup_token"].as_str()))?;

    println!(
        "service pid {pid}: http {http}, syslog udp {udp}, tcp {tcp}, mqtt {}",
        o.mqtt.as_deref().unwrap_or("off")
    );
    let started = Instant::now();
    let phase = Arc::new(AtomicU64::new(0));
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (phase, samples, sampling) = (phase.clone(), samples.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some((rss_kib, hwm_kib, anon_kib)) = memory_with_anon(pid)
                    && let Ok(mut s) = samples.lock()
                {
                    s.push(Sample {
                        secs: started.elapsed().as_secs_f64(),
                        phase: phase.load(Ordering::Relaxed),
                        rss_kib,
                        hwm_kib,
                        anon_kib,
                    });
                }
                std::thread::sleep(SAMPLE);
            }
        })
    };

    let control = Arc::new(Control::default());
    let sent = Arc::new(Sent::default());

    // 1. Calibration: a TCP sender flat out.
    phase.store(1, Ordering::Relaxed);
    control.flat_out.store(true, Ordering::Relaxed);
    let tcp_thread = {
        let (control, sent) = (control.clone(), sent.clone());
        std::thread::spawn(move || tcp_sender(tcp, control, sent))
    };
    std::thread::sleep(Duration::from_secs(2));
    let before = service.sources()?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(o.calibration_secs));
    let after = service.sources()?;
    let capacity = (after.journal - before.journal) as f64 / t0.elapsed().as_secs_f64();
    control.flat_out.store(false, Ordering::Relaxed);
    control.rate.store(0, Ordering::Relaxed);
    control.phase.fetch_add(1, Ordering::Relaxed);
    println!(
        "calibration: {capacity:.0} events/s journaled from one syslog TCP sender held back by flow control (load {})",
        load_average()
    );
    // Let the service catch up before the nominal phase.
    settle(service, Duration::from_secs(90))?;
    let idle_rss = memory(pid).map(|m| m.0).unwrap_or(0);
    sent.tcp_offered
        .store(sent.tcp_written.load(Ordering::Relaxed), Ordering::Relaxed);

    // The other senders, idle until a rate is set.
    let sources = if o.mqtt.is_some() { 4 } else { 3 };
    let udp_thread = {
        let (control, sent) = (control.clone(), sent.clone());
        std::thread::spawn(move || udp_sender(udp, control, sent))
    };
    let http_task = runtime.spawn(http_senders(http, token, control.clone(), sent.clone()));
    let mqtt_task = o.mqtt.clone().map(|url| {
        runtime.spawn(mqtt_sender(
            url,
            control.clone(),
            sent.clone(),
            format!("onesec-overload/{pid}/load"),
        ))
    });

    let mut reports = Vec::new();
    for (number, factor, secs) in [(2u64, 1u64, o.nominal_secs), (3, o.factor, o.overload_secs)] {
        let rate = (capacity * factor as f64 / sources as f64) as u64;
        let before_sent = sent.snapshot();
        let before = service.sources()?;
        let load_before = load_average();
        phase.store(number, Ordering::Relaxed);
        control.rate.store(rate, Ordering::Relaxed);
        control.phase.fetch_add(1, Ordering::Relaxed);
        let t0 = Instant::now();
        let mut next = 5;
        while t0.elapsed() < Duration::from_secs(secs) {
            std::thread::sleep(Duration::from_millis(250));
            if t0.elapsed().as_secs() >= next {
                let (rss, hwm) = memory(pid).unwrap_or((0, 0));
                println!(
                    "  {:>8} {:>4}s  RSS {:>7.1} MiB  HWM {:>7.1} MiB  journal {}",
                    PHASES[number as usize],
                    next,
                    rss as f64 / 1024.0,
                    hwm as f64 / 1024.0,
                    service.sources()?.journal
                );
                next += 5;
            }
        }
        let elapsed = t0.elapsed().as_secs_f64();
        sent.tcp_offered
            .fetch_add((rate as f64 * elapsed) as u64, Ordering::Relaxed);
        let after_sent = sent.snapshot();
        let after = service.sources()?;
        reports.push(PhaseReport {
            name: PHASES[number as usize],
            factor,
            target_per_source: rate,
            secs: elapsed,
            sent: diff(&after_sent, &before_sent),
            counts: (before, after),
            load: format!("{load_before} → {}", load_average()),
        });
    }

    // 4. Drain.
    phase.store(4, Ordering::Relaxed);
    control.stop.store(true, Ordering::Relaxed);
    tcp_thread.join().map_err(|_| "tcp sender panicked")??;
    udp_thread.join().map_err(|_| "udp sender panicked")??;
    runtime.block_on(http_task)??;
    if let Some(task) = mqtt_task {
        runtime.block_on(task)??;
    }
    settle_journal(service, Duration::from_secs(120))?;
    // Submissions held back by detection's backlog may still be waiting: give what TCP took
    // and what HTTP acknowledged the time to land (reported).
    let drained = Instant::now();
    let taken = sent.snapshot();
    while drained.elapsed() < Duration::from_secs(120) {
        let now = service.sources()?;
        if now.tcp >= taken.tcp_written && now.http >= taken.http_accepted {
            break;
        }
        std::thread::sleep(Duration::from_millis(1000));
    }
    println!(
        "drain: TCP and HTTP counts reached after {:.0} s more",
        drained.elapsed().as_secs_f64()
    );
    let counted = service.ask("count", "COUNT")?;
    let end = Counts::from(&counted);
    let stored = counted["stored"].as_u64().unwrap_or(0);
    sampling.store(false, Ordering::Relaxed);
    sampler.join().map_err(|_| "sampler panicked")?;
    let samples = samples.lock().map_err(|_| "poisoned")?.clone();

    for r in &reports {
        r.print();
    }
    Ok(print_memory_and_check(
        &samples,
        idle_rss,
        &sent.snapshot(),
        &end,
        stored,
    ))
}

async fn sign_in(http: SocketAddr, setup_token: Option<&str>) -> Result<String, BoxError> {
    let client = reqwest::Client::new();
    let password = "overload-benchmark-Passw0rd-long-enough";
    let setup_token = setup_token.ok_or("no setup token: not a first start")?;
    let setup = client
        .post(format!("http://{http}/api/v1/auth/setup"))
        .json(
            &serde_json::json!({"setup_token": setup_token, "user": "bench", "password": password}),
        )
        .send()
        .await?;
    if !setup.status().is_success() {
        return Err(format!("setup: {} {}", setup.status(), setup.text().await?).into());
    }
    let login: serde_json::Value = client
        .post(format!("http://{http}/api/v1/auth/login"))
        .json(&serde_json::json!({"user": "bench", "password": password}))
        .send()
        .await?
        .json()
        .await?;
    Ok(login["token"]
        .as_str()
        .ok_or(format!("login: {login}"))?
        .to_string())
}

/// Waits until the journal stops growing and detection has caught up with it.
fn settle(service: &mut Service, limit: Duration) -> Result<Counts, BoxError> {
    let deadline = Instant::now() + limit;
    let mut last = service.sources()?;
    loop {
        std::thread::sleep(Duration::from_millis(1000));
        let now = service.sources()?;
        if now.journal == last.journal && now.detected >= now.journal {
            return Ok(now);
        }
        if Instant::now() > deadline {
            println!("did not settle within {limit:?}: {now:?}");
            return Ok(now);
        }
        last = now;
    }
}

/// Waits until the journal has stopped growing (every request in flight answered, every queue
/// drained); detection may still be behind.
fn settle_journal(service: &mut Service, limit: Duration) -> Result<Counts, BoxError> {
    let deadline = Instant::now() + limit;
    let mut last = service.sources()?;
    let mut still = 0;
    loop {
        std::thread::sleep(Duration::from_millis(1000));
        let now = service.sources()?;
        still = if now.journal == last.journal {
            still + 1
        } else {
            0
        };
        if still >= 3 || Instant::now() > deadline {
            return Ok(now);
        }
        last = now;
    }
}

fn diff(a: &SentSnapshot, b: &SentSnapshot) -> SentSnapshot {
    SentSnapshot {
        tcp_offered: a.tcp_offered - b.tcp_offered,
        tcp_written: a.tcp_written - b.tcp_written,
        udp_sent: a.udp_sent - b.udp_sent,
        http_offered: a.http_offered - b.http_offered,
        http_accepted: a.http_accepted - b.http_accepted,
        http_refused: a.http_refused - b.http_refused,
        http_requests_503: a.http_requests_503 - b.http_requests_503,
        http_other: a.http_other - b.http_other,
        mqtt_published: a.mqtt_published - b.mqtt_published,
        mqtt_acked: a.mqtt_acked - b.mqtt_acked,
    }
}

struct PhaseReport {
    name: &'static str,
    factor: u64,
    target_per_source: u64,
    secs: f64,
    sent: SentSnapshot,
    counts: (Counts, Counts),
    load: String,
}

impl PhaseReport {
    fn print(&self) {
        let (b, a) = self.counts;
        let s = &self.sent;
        let r = |n: u64| n as f64 / self.secs;
        println!(
            "\n{} ({}×, {:.0} s, target {} events/s per source, load {}):",
            self.name, self.factor, self.secs, self.target_per_source, self.load
        );
        println!(
            "  | source | offered/s | accepted/s (journaled) | refused or dropped |\n  |---|---|---|---|"
        );
        println!(
            "  | HTTP | {:.0} | {:.0} ({:.0}) | {} events in {} answers 503; {} other failures |",
            r(s.http_offered),
            r(s.http_accepted),
            r(a.http - b.http),
            s.http_refused,
            s.http_requests_503,
            s.http_other
        );
        println!(
            "  | syslog TCP | {:.0} | {:.0} ({:.0}) | {} held back by flow control (sender's backlog) |",
            r(s.tcp_offered),
            r(s.tcp_written),
            r(a.tcp - b.tcp),
            s.tcp_offered.saturating_sub(s.tcp_written)
        );
        println!(
            "  | syslog UDP | {:.0} | {:.0} ({:.0}) | {} dropped, counted |",
            r(s.udp_sent),
            r(a.udp_received - b.udp_received),
            r(a.udp_decoded - b.udp_decoded),
            a.udp_dropped - b.udp_dropped
        );
        if s.mqtt_published > 0 {
            println!(
                "  | MQTT QoS 1 | {:.0} | {:.0} acked by the broker ({:.0}) | broker-side |",
                r(s.mqtt_published),
                r(s.mqtt_acked),
                r(a.mqtt - b.mqtt)
            );
        }
        println!(
            "  | all | {:.0} | ({:.0}) | |",
            r(s.http_offered + s.tcp_offered + s.udp_sent + s.mqtt_published),
            r(a.journal - b.journal)
        );
    }
}

fn print_memory_and_check(
    samples: &[Sample],
    idle_rss: u64,
    sent: &SentSnapshot,
    end: &Counts,
    stored: u64,
) -> bool {
    let mib = |k: u64| k as f64 / 1024.0;
    println!("\nmemory (VmRSS of the service, MiB):");
    println!("  after calibration, idle: {:.1}", mib(idle_rss));
    for (number, name) in PHASES.iter().enumerate().skip(1) {
        let phase: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.phase == number as u64)
            .collect();
        if phase.is_empty() {
            continue;
        }
        let max = phase.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        let max_anon = phase.iter().map(|s| s.anon_kib).max().unwrap_or(0);
        let mean = phase.iter().map(|s| s.rss_kib).sum::<u64>() / phase.len() as u64;
        let third = phase.len() / 3;
        let mean_of = |part: &[&Sample]| {
            part.iter().map(|s| s.rss_kib).sum::<u64>() / part.len().max(1) as u64
        };
        println!(
            "  {name:<11} mean {:>7.1}  max {:>7.1} (anonymous {:>7.1})  first third {:>7.1}  last third {:>7.1}  ({} samples, {:.0}-{:.0} s)",
            mib(mean),
            mib(max),
            mib(max_anon),
            mib(mean_of(&phase[..third])),
            mib(mean_of(&phase[phase.len() - third..])),
            phase.len(),
            phase.first().map(|s| s.secs).unwrap_or(0.0),
            phase.last().map(|s| s.secs).unwrap_or(0.0),
        );
    }
    let hwm = samples.iter().map(|s| s.hwm_kib).max().unwrap_or(0);
    println!("  peak (VmHWM): {:.1}", mib(hwm));

    println!("\ncount check (whole run):");
    let mut ok = true;
    let mut check = |what: &str, good: bool, detail: String| {
        println!(
            "  [{}] {what}: {detail}",
            if good { "ok" } else { "FAILED" }
        );
        ok &= good;
    };
    check(
        "HTTP: every event a 200 answer acknowledged is journaled",
        end.http == sent.http_accepted,
        format!(
            "acknowledged {}, journaled {}",
            sent.http_accepted, end.http
        ),
    );
    check(
        "syslog TCP: every line the socket took is journaled",
        end.tcp == sent.tcp_written,
        format!("written {}, journaled {}", sent.tcp_written, end.tcp),
    );
    let uncounted = sent
        .udp_sent
        .saturating_sub(end.udp_received + end.udp_dropped);
    check(
        "syslog UDP: every datagram received is journaled; every other one counted as dropped",
        end.udp_decoded == end.udp_received && uncounted == 0,
        format!(
            "sent {}, received {}, journaled {}, dropped (counted) {}, lost before the socket {}",
            sent.udp_sent, end.udp_received, end.udp_decoded, end.udp_dropped, uncounted
        ),
    );
    if sent.mqtt_published > 0 {
        println!(
            "  [info] MQTT: published {}, acknowledged by the broker {}, journaled {} (the broker, not onesec, holds or drops what onesec has not taken: mosquitto's max_queued_messages)",
            sent.mqtt_published, sent.mqtt_acked, end.mqtt
        );
    }
    check(
        "journal = sum of the sources, nothing dead-lettered",
        end.journal == end.http + end.tcp + end.udp_decoded + end.mqtt && end.dead_lettered == 0,
        format!(
            "journal {}, sources {}, dead letters {}",
            end.journal,
            end.http + end.tcp + end.udp_decoded + end.mqtt,
            end.dead_lettered
        ),
    );
    check(
        "the store indexes every event detection has passed (indexed ≥ detected)",
        stored >= end.detected,
        format!(
            "journal {}, detected {}, indexed {}; detection backlog {} (in the journal on disk, indexed as detection reaches it)",
            end.journal,
            end.detected,
            stored,
            end.journal - end.detected
        ),
    );
    ok
}
