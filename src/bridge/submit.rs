//! Handing a call's first step to a runtime: registering it, moving it to a fresh generation
//! if the runtime turns out to be closed or dead, and registering a blocking call late.

use std::{io, time::Instant};

use crate::{
    error::BridgeError,
    generation::Generation,
    job::{Job, LocalJob},
    registry::Registration,
    runtime::BridgeRuntime,
    slot::Slot,
    sync::Arc,
};

use super::supply::Supply;

/// A job the bridge can hand to a runtime: `Send` futures and local ones.
pub(crate) trait Work: Sized {
    fn spawn_on(self, runtime: &dyn BridgeRuntime) -> Result<(), Self>;
}

impl Work for Job {
    fn spawn_on(self, runtime: &dyn BridgeRuntime) -> Result<(), Job> {
        runtime.spawn(self)
    }
}

impl Work for LocalJob {
    fn spawn_on(self, runtime: &dyn BridgeRuntime) -> Result<(), LocalJob> {
        runtime.spawn_local(self)
    }
}

/// A call handed to a runtime: the generation that took it, and the call's registration
/// there, once it has one.
pub(crate) struct Submitted {
    pub(crate) generation: Arc<Generation>,
    pub(crate) registration: Option<Registration>,
}

/// When a call is registered in its generation, so that closing the generation fails it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Register {
    /// Before its job is handed over: tasks, whose handle may outlive any caller's wait.
    Now,
    /// Later, by [`register_late`] just before its caller parks (or by its job once its future
    /// is pending): a blocking call, which is most often answered while its caller still
    /// spins, and then never needs a registration.
    Late,
}

/// Hands a call's first `job` to `generation`'s runtime, registering the call as `register`
/// says, and moves it to a fresh generation if that one turns out to be closed or dead
/// (waiting for the fresh one until `deadline` at most).
pub(crate) fn submit<T: Send + 'static, W: Work>(
    supply: &Supply,
    mut generation: Arc<Generation>,
    mut job: W,
    slot: &Arc<Slot<T>>,
    register: Register,
    deadline: Option<Instant>,
) -> Result<Submitted, BridgeError> {
    /// Generations tried before giving up: a factory whose fresh runtimes refuse work must not
    /// make a call loop forever.
    const ATTEMPTS: usize = 3;
    let mut refused = 0;
    for attempt in 1..=ATTEMPTS {
        let registration = match register {
            Register::Now => generation.register(slot.clone()),
            Register::Late => None,
        };
        // (A registered call that the generation closes after this is failed by the close.)
        let closed = match register {
            Register::Now => registration.is_none(),
            Register::Late => generation.is_closed(),
        };
        if closed {
            // Retired or shut down under us.
            supply.unpublish(&generation);
        } else {
            match job.spawn_on(&*generation.runtime) {
                Ok(()) => {
                    return Ok(Submitted {
                        generation,
                        registration,
                    });
                }
                Err(returned) => {
                    // A runtime that refuses work is dead: never leave it published.
                    refused += 1;
                    job = returned;
                    drop(registration);
                    supply.retire(&generation, false);
                    if slot.is_finished() {
                        // Failed meanwhile (a shutdown): do not start anything for it.
                        return Err(supply.closed_error());
                    }
                }
            }
        }
        if attempt < ATTEMPTS {
            // Every step of the call runs where the next generation takes it: its home moves
            // along before the job is handed over.
            generation = supply.generation(deadline)?;
            slot.move_to(&generation);
        }
    }
    Err(BridgeError::Start(io::Error::other(format!(
        "no runtime took the call in {ATTEMPTS} attempts ({refused} refused it, the others \
         were closed as it arrived), even freshly started"
    ))))
}

/// Registers a call handed over without a registration, so that closing its generation fails
/// it, before its caller parks. A generation closed meanwhile never will: the call fails here
/// with the reason instead.
pub(crate) fn register_late<T: Send + 'static>(call: &mut Submitted, slot: &Arc<Slot<T>>) {
    if call.registration.is_some() {
        return;
    }
    match call.generation.register(slot.clone()) {
        Some(registration) => call.registration = Some(registration),
        // Closed, and so said why, when it did.
        None => slot.fail_from_caller(
            call.generation
                .close_reason()
                .map_or(BridgeError::Retired, BridgeError::from),
        ),
    }
}
