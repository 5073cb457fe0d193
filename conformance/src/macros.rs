//! The one table of checks, by area, and the macros made from it: [`conformance_suite!`]
//! (a module of `#[test]`s) and [`Suite::checks`](crate::Suite::checks) (a list to run your
//! own way).
//!
//! [`conformance_suite!`]: crate::conformance_suite

/// The checks, by area, in the order they are listed: the one table that
/// [`conformance_suite!`](crate::conformance_suite) and [`Suite::checks`] are made from. Calls
/// `$then!($($args)* check, check, ...)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_checks {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)*
            // Reuse and callers
            reuse,
            calls_from_many_threads,
            calls_from_async_contexts,
            // Timeouts
            timeouts_cancel_on_the_runtime,
            deadline_holds_while_the_runtime_is_blocked,
            a_timeout_spares_other_calls,
            task_deadlines_and_cancellation,
            deadlines_hold_while_a_runtime_starts,
            // Health
            a_wedged_runtime_is_retired,
            a_busy_runtime_is_not_retired,
            a_moved_call_runs_where_it_was_taken,
            // Nested calls
            nested_calls_fall_back,
            nested_timeouts_cancel,
            nested_calls_can_be_refused,
            // Start
            startup_failure_is_retried,
            // Panics
            panics_reach_the_caller,
            panics_in_drop_are_contained,
            // Shutdown
            shutdown_is_terminal,
            shutdown_fails_calls_in_flight,
            shutdown_of_a_stuck_runtime_is_bounded,
            shutdown_does_not_wait_for_thread_locals,
            shutdown_from_the_bridge_itself,
            a_panic_during_shutdown_is_contained,
            dropping_the_last_clone_shuts_down,
            // Local futures
            local_futures,
            // Beyond whole futures
            bound_values_are_made_once_on_the_runtime,
            bound_values_follow_their_runtime,
            bound_makers_can_fail,
            a_bound_values_panicking_drop_is_contained,
            streams_iterate_on_the_runtime,
            io_over_the_bridge,
            // Cancellation
            a_token_cancels_calls_from_another_thread,
            scope_deadlines_bound_every_call,
            scopes_nest,
            a_failing_check_interrupts_the_call,
            scopes_travel_into_nested_calls,
            streams_and_readers_obey_a_scope,
            confirmed_cancellation_waits_for_the_drop,
        );
    };
}

/// Declares a module of `#[test]`s, one per check of the conformance [`Suite`](crate::Suite) built by
/// `$suite`, each named after its check, so a failure names its check and the module names
/// the runtime.
///
/// ```no_run
/// use loopbridge::SmolRuntime;
/// use loopbridge_conformance::Suite;
/// loopbridge_conformance::conformance_suite!(smol, Suite::new(SmolRuntime::start));
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $suite:expr) => {
        $crate::__conformance_checks!(__conformance_tests!($name, $suite;));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($name:ident, $suite:expr; $($check:ident,)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn suite() -> $crate::Suite {
                $suite
            }

            $(
                #[test]
                fn $check() {
                    suite().$check();
                }
            )*
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_checks_table {
    ($($check:ident,)*) => {
        impl $crate::Suite {
            /// Every check, by name, in the order of the suite: to run them from a harness of
            /// your own ([`conformance_suite!`](crate::conformance_suite) makes one `#[test]`
            /// each).
            ///
            /// ```
            /// use loopbridge::SmolRuntime;
            /// use loopbridge_conformance::Suite;
            ///
            /// let suite = Suite::new(SmolRuntime::start).local_tasks();
            /// let checks = Suite::checks();
            /// assert_eq!(checks.len(), 38);
            /// let (name, reuse) = checks[0];
            /// assert_eq!(name, "reuse");
            /// reuse(&suite);
            /// ```
            pub fn checks() -> &'static [(&'static str, fn(&$crate::Suite))] {
                &[$((stringify!($check), $crate::Suite::$check),)*]
            }
        }
    };
}

crate::__conformance_checks!(__conformance_checks_table!());
