//! The fake environment of the testkit crate (`isobench_testkit::fake_env`),
//! for the tests of the suite, the run session and every experiment
//! without root.

isobench_testkit::fake_env!(crate);
