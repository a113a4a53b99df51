//! The fake spawner of the testkit crate (`isobench_testkit::fake_spawner`),
//! for the tests of the columns without root.

isobench_testkit::fake_spawner!(crate);
