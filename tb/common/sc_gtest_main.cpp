// sc_main for SystemC GoogleTest binaries: one process per test (ctest runs
// each discovered test with its own --gtest_filter), SystemC reports of
// warning severity and above become test failures.
#include <gtest/gtest.h>

#include <cstdlib>

#include <systemc>

namespace {

void report_to_gtest(const sc_core::sc_report& report, const sc_core::sc_actions& actions) {
  using namespace sc_core;
  const sc_severity severity = report.get_severity();
  if (severity >= SC_WARNING) {
    ADD_FAILURE() << "SystemC " << (severity == SC_WARNING ? "warning" : "error") << ": "
                  << report.get_msg_type() << ": " << report.get_msg() << " ("
                  << report.get_file_name() << ":" << report.get_line_number() << ")";
  }
  // Keep SystemC's own handling of errors (throw, stop) so the run ends.
  if (severity >= SC_ERROR) {
    sc_report_handler::default_handler(report, actions & ~SC_DISPLAY);
  }
}

// No SystemC banner in every test's output (read when the kernel starts).
const int kQuietBanner = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);

}  // namespace

int sc_main(int argc, char* argv[]) {
  ::testing::InitGoogleTest(&argc, argv);
  sc_core::sc_report_handler::set_handler(report_to_gtest);
  // The deprecation warnings SystemC prints about itself are not the test's.
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  return RUN_ALL_TESTS();
}
