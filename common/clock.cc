#include "common/clock.h"

namespace meshgate {

SystemClock& SystemClock::Get() {
  static SystemClock clock;
  return clock;
}

}  // namespace meshgate
