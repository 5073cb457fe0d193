//! The conformance suite on the default adapter, with one thread and with three, in both drive
//! modes.

use loopbridge::{Drive, SmolRuntime};
use loopbridge_conformance::Suite;

loopbridge_conformance::conformance_suite!(
    smol_one_thread,
    Suite::new(SmolRuntime::start).local_tasks()
);
loopbridge_conformance::conformance_suite!(
    smol_three_threads,
    Suite::new(|| SmolRuntime::with_threads(3))
        .threads(3)
        .local_tasks()
);
loopbridge_conformance::conformance_suite!(
    smol_one_thread_caller_driven,
    Suite::new(SmolRuntime::start)
        .local_tasks()
        .drive(Drive::Caller)
);
loopbridge_conformance::conformance_suite!(
    smol_three_threads_caller_driven,
    Suite::new(|| SmolRuntime::with_threads(3))
        .threads(3)
        .local_tasks()
        .drive(Drive::Caller)
);
