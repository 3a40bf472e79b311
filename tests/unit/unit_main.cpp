// unit_main.cpp: the Boost.Test module of keel_unit_tests (white-box tests of gc/ parts).
#define BOOST_TEST_MODULE keel_unit_tests
#include <boost/test/unit_test.hpp>
