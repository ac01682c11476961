#include <catch2/catch.hpp>

#include "server/late_answer_grace.h"

using viasock::LateAnswerGrace;

TEST_CASE("a tool that waits with records unanswered is given a grace to answer from a timer") {
  LateAnswerGrace grace;
  SECTION("silence for the whole grace confirms that it answered nothing") {
    CHECK(grace.look(10.0, 100, 1.0) == Approx(1.0));
    CHECK(grace.look(10.4, 100, 1.0) == Approx(0.6));
    CHECK(grace.look(11.0, 100, 1.0) == 0);
    CHECK(grace.look(12.5, 100, 1.0) == 0);
  }
  SECTION("a byte printed during the grace starts it over") {
    CHECK(grace.look(10.0, 100, 1.0) == Approx(1.0));
    CHECK(grace.look(10.9, 101, 1.0) == Approx(1.0));
    CHECK(grace.look(11.5, 101, 1.0) == Approx(0.4));
    CHECK(grace.look(11.9, 101, 1.0) == 0);
  }
  SECTION("after a reset the next look starts a new grace") {
    CHECK(grace.look(10.0, 100, 1.0) == Approx(1.0));
    grace.reset();
    CHECK(grace.look(20.0, 100, 1.0) == Approx(1.0));
  }
}

TEST_CASE("the grace is one second, or the calls' -w when that is longer") {
  CHECK(LateAnswerGrace::seconds_for(0) == Approx(1.0));
  CHECK(LateAnswerGrace::seconds_for(0.2) == Approx(1.0));
  CHECK(LateAnswerGrace::seconds_for(30) == Approx(30.0));
}
