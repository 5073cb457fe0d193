//! What the OS and the servers count: CPU time, threads created, open descriptors, and the TCP
//! connections the servers accepted. The servers run in a child process, so that their
//! threads, descriptors and CPU time stay out of the figures.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    convert::Infallible,
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    thread::{self, JoinHandle},
    time::Duration,
};

use http_body_util::Full;
use hyper::{Response, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;

/// Heap allocations made by the whole process so far (allocations and reallocations), when
/// [`Counting`] is the global allocator, while counting is on (see [`counted`]).
pub static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Whether [`Counting`] counts right now.
static COUNTING: AtomicBool = AtomicBool::new(false);

/// Runs `f` with allocations counted into [`ALLOCATIONS`].
///
/// Counting is off otherwise: each count is an atomic read-modify-write of one cache line that
/// every allocating thread shares, a cost of the measurement rather than of the code measured.
/// It would add about a tenth to the fast path's round trip, and nothing to the spin-handoff
/// floor it is compared with.
pub fn counted<T>(f: impl FnOnce() -> T) -> T {
    COUNTING.store(true, Ordering::SeqCst);
    let result = f();
    COUNTING.store(false, Ordering::SeqCst);
    result
}

fn count() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The system allocator, counting every allocation into [`ALLOCATIONS`] while counting is on.
/// Measurement code only: the library itself forbids `unsafe`.
pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so it
// upholds `GlobalAlloc`'s contract exactly as `System` does; the counter has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// CPU time, in nanoseconds, of this process's threads whose names start with one of
/// `prefixes` (from `/proc/self/task/*/schedstat`, which counts in nanoseconds).
pub fn thread_cpu_ns(prefixes: &[&str]) -> u64 {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for task in tasks.flatten() {
        let Ok(name) = fs::read_to_string(task.path().join("comm")) else {
            continue;
        };
        if !prefixes.iter().any(|p| name.trim().starts_with(p)) {
            continue;
        }
        let Ok(stat) = fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// Process CPU time (user + system), in nanoseconds, from `/proc/self/stat`; it includes
/// threads that have exited. Resolution: one clock tick (10 ms at the usual 100 Hz).
pub fn cpu_ns() -> u64 {
    let Ok(stat) = fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // The command name may contain spaces; fields resume after its closing parenthesis.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
    ticks * 10_000_000
}

/// Processes and threads created on the whole machine since boot (`processes` in
/// `/proc/stat`). Its delta over a measurement counts the threads this process created, plus
/// whatever else the machine started meanwhile (little, on a quiet machine).
pub fn tasks_created() -> u64 {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| {
            stat.lines()
                .find_map(|line| line.strip_prefix("processes "))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Descriptors open in this process now.
pub fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// Samples the open descriptor count every 2 ms and keeps the peak.
pub struct FdSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

impl FdSampler {
    pub fn start() -> FdSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicUsize::new(open_fds()));
        let (thread_stop, thread_peak) = (stop.clone(), peak.clone());
        let thread = thread::Builder::new()
            .name("compare-fd-sampler".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    thread_peak.fetch_max(open_fds(), Ordering::Relaxed);
                    thread::sleep(Duration::from_millis(2));
                }
            })
            .expect("sampler thread");
        FdSampler { stop, peak, thread }
    }

    /// Starts the peak over from the current count.
    pub fn reset(&self) {
        self.peak.store(open_fds(), Ordering::Relaxed);
    }

    /// Stops sampling and returns the peak.
    pub fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed).max(open_fds())
    }
}

/// The servers' child process: an echo server and a hyper HTTP/1.1 server on 127.0.0.1.
pub struct Servers {
    /// The server process, or the servers themselves when they run in this one (tests).
    child: Option<Child>,
    in_process: Option<InProcess>,
    pub echo: SocketAddr,
    pub http: SocketAddr,
    control: SocketAddr,
}

impl Servers {
    /// Starts this program again with `--serve` and reads the servers' addresses.
    pub fn spawn() -> Servers {
        let exe = std::env::current_exe().expect("path of this program");
        let mut child = Command::new(exe)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("server stdout"))
            .read_line(&mut line)
            .expect("server addresses");
        let addrs: Vec<SocketAddr> = line
            .split_whitespace()
            .map(|a| a.parse().expect("a server address"))
            .collect();
        assert_eq!(addrs.len(), 3, "the server process printed {line:?}");
        Servers {
            child: Some(child),
            in_process: None,
            echo: addrs[0],
            http: addrs[1],
            control: addrs[2],
        }
    }

    /// The same servers in this process: for the tests, which cannot start themselves again
    /// as a server (their CPU and threads then count in the figures, which tests do not
    /// check).
    #[cfg(test)]
    pub fn in_process() -> Servers {
        let servers = InProcess::start();
        Servers {
            child: None,
            echo: servers.echo,
            http: servers.http,
            control: servers.control,
            in_process: Some(servers),
        }
    }

    /// TCP connections the echo and HTTP servers have accepted so far.
    pub fn connections(&self) -> u64 {
        let mut answer = String::new();
        TcpStream::connect(self.control)
            .and_then(|mut stream| stream.read_to_string(&mut answer))
            .expect("ask the server process");
        answer.trim().parse().expect("a connection count")
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(servers) = self.in_process.take() {
            servers.stop();
        }
    }
}

/// The body of the server process. Exits when its parent closes its stdin.
pub fn serve() {
    let servers = InProcess::start();
    println!("{} {} {}", servers.echo, servers.http, servers.control);
    let _ = std::io::stdout().flush();
    // Until the parent goes away.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    servers.stop();
}

/// The echo and HTTP servers, on a tokio runtime of their own in this process, and a control
/// port that answers with the number of connections they accepted.
pub struct InProcess {
    pub echo: SocketAddr,
    pub http: SocketAddr,
    pub control: SocketAddr,
    runtime: tokio::runtime::Runtime,
}

impl InProcess {
    pub fn start() -> InProcess {
        let accepted = Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("compare-server")
            .enable_all()
            .build()
            .expect("server runtime");
        let (echo, http) = runtime.block_on(async {
            let echo = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind echo");
            let http = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind http");
            (echo, http)
        });
        let control = TcpListener::bind("127.0.0.1:0").expect("bind control");
        let addrs = (
            echo.local_addr().expect("echo address"),
            http.local_addr().expect("http address"),
            control.local_addr().expect("control address"),
        );
        let counter = accepted.clone();
        runtime.spawn(async move {
            while let Ok((mut stream, _)) = echo.accept().await {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        let counter = accepted.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = http.accept().await {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let hello = service_fn(|_request| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hello)
                        .await;
                });
            }
        });
        thread::Builder::new()
            .name("compare-control".into())
            .spawn(move || {
                for mut stream in control.incoming().flatten() {
                    let _ = write!(stream, "{}", accepted.load(Ordering::Relaxed));
                }
            })
            .expect("control thread");
        InProcess {
            echo: addrs.0,
            http: addrs.1,
            control: addrs.2,
            runtime,
        }
    }

    pub fn stop(self) {
        self.runtime.shutdown_background();
    }
}
