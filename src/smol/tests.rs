//! The smol adapter's own tests, of what only its internals can show: no step is ever
//! stranded in its queues.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, mpsc},
    thread,
    time::Duration,
};

use super::runtime::SmolRuntime;
use crate::job::Job;
use crate::runtime::BridgeRuntime;

/// A job whose future reports `id` and the thread it ran or was dropped on.
fn reporting_job(id: usize, report: mpsc::Sender<(usize, String)>) -> Job {
    struct Report(usize, mpsc::Sender<(usize, String)>);
    impl Drop for Report {
        fn drop(&mut self) {
            let name = thread::current().name().unwrap_or("<unnamed>").to_owned();
            let _ = self.1.send((self.0, name));
        }
    }
    let report = Report(id, report);
    let (runnable, task) = async_task::spawn(async move { drop(report) }, |_| {});
    task.detach();
    Job::new(runnable)
}

/// A step that goes to the overflow queue while every thread sleeps on the main queue
/// still runs: the push wakes a thread. (Before, nothing woke them, and a call without a
/// timeout hung until some other step arrived.)
#[test]
fn a_step_in_the_overflow_wakes_a_sleeping_thread() {
    let runtime = SmolRuntime::with_threads(2).unwrap();
    // Let both threads fall asleep: the first spins for 50 µs, the second not at all. (If
    // one were still awake, the check would pass without showing anything; it cannot fail
    // because of this.)
    thread::sleep(Duration::from_millis(100));
    let (report, ran) = mpsc::channel();
    assert!(
        runtime
            .shared
            .push_overflow(reporting_job(0, report))
            .is_ok()
    );
    let (_, on) = ran
        .recv_timeout(Duration::from_secs(10))
        .expect("a step in the overflow queue was stranded while the threads slept");
    assert!(on.starts_with("loopbridge-smol-"), "ran on {on}");
    assert!(runtime.shutdown(Duration::from_secs(10)));
}

/// Steps pushed by other threads while the runtime stops are each either refused or taken
/// by a runtime thread (run, or dropped there) before the threads are gone: none is left
/// in a queue that nobody drains, to be dropped later by whoever drops the runtime.
#[test]
fn no_step_outlives_the_stop() {
    for _ in 0..200 {
        let runtime = Arc::new(SmolRuntime::with_threads(2).unwrap());
        let (report, reports) = mpsc::channel();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let producers: Vec<_> = (0..2)
            .map(|producer| {
                let runtime = runtime.clone();
                let report = report.clone();
                let accepted = accepted.clone();
                thread::spawn(move || {
                    for n in 0.. {
                        let id = n * 2 + producer;
                        // A refused job is dropped right here, reporting this thread.
                        if runtime.spawn(reporting_job(id, report.clone())).is_err() {
                            break;
                        }
                        accepted.lock().unwrap().push(id);
                    }
                })
            })
            .collect();
        drop(report);
        thread::yield_now();
        assert!(runtime.shutdown(Duration::from_secs(10)));
        for producer in producers {
            producer.join().unwrap();
        }
        // Every thread has exited: whatever was accepted has been taken by now, and by a
        // runtime thread.
        let taken: HashMap<usize, String> = reports.try_iter().collect();
        for id in accepted.lock().unwrap().iter() {
            match taken.get(id) {
                Some(on) => assert!(on.starts_with("loopbridge-smol-"), "taken on {on}"),
                None => panic!("an accepted step was left in a queue after the stop"),
            }
        }
    }
}
