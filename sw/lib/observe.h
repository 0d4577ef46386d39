// What the firmware offers observers: the statistics visitor and text sink
// of its debug interface (sw/hal/debug.h), under the firmware's namespace.
#pragma once

#include "sw/hal/debug.h"

namespace fw {

using StatVisitor = hal::StatVisitor;
using TextSink = hal::TextSink;

}  // namespace fw
