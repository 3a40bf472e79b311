// precise_main.cpp: the Boost.Test module of keel_precise_tests, the suites that only the 3m
// variant runs (built with -DMZ_PRECISE_GC against libkeel_3m): registration frames, moving
// objects, traversers and the checked build's reports. Every other file of tests/precise adds
// test suites to it and must not define BOOST_TEST_MODULE itself.
#define BOOST_TEST_MODULE keel_precise_tests
#include <boost/test/unit_test.hpp>
