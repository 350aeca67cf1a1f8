#include "ir/Shapes.h"

#include <catch2/catch.hpp>

using namespace ra;

TEST_CASE("shapes: numpy broadcasting", "[shapes]") {
  using V = llvm::SmallVector<int64_t>;
  CHECK(*broadcastShapes(V{8, 1, 3}, V{4, 3}) == V{8, 4, 3});
  CHECK(*broadcastShapes(V{}, V{2, 2}) == V{2, 2});
  CHECK(!broadcastShapes(V{2, 3}, V{3, 2}));
  CHECK(isBroadcastableTo(V{3}, V{2, 3}));
  CHECK(!isBroadcastableTo(V{2, 3}, V{3}));
  CHECK(formatShape(V{8, 64}) == "[8, 64]");
  CHECK(!checkedNumElements(V{int64_t(1) << 40, int64_t(1) << 40}));
  CHECK(*checkedNumElements(V{2, 3, 4}) == 24);
}
