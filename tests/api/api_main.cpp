// api_main.cpp: the Boost.Test module of keel_api_tests. Every other file of tests/api adds test
// suites to it and must not define BOOST_TEST_MODULE itself.
#define BOOST_TEST_MODULE keel_api_tests
#include <boost/test/unit_test.hpp>
