//! The event-loop API (`AsFd`, the socket descriptors, `prepare_to_wait`,
//! `after_wake`) carries a whole exchange with neither side blocking inside
//! sairing: the example `event_loop`, run as a test (it checks every answer).

#[path = "../examples/event_loop.rs"]
mod example;

#[test]
fn two_event_loops_carry_every_request_and_answer() {
    example::main().unwrap();
}
