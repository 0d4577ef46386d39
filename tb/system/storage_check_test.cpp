// The end-of-run check of the disks (tb/top/storage.cpp) proven able to
// fail: a run of a storage scenario passes it; one byte of a file changed
// on the medium afterwards (as a lost or misdirected write would leave it),
// or the file's size changed in its inode, and the check names the file,
// the offset and both values. Each test is one SystemC simulation (one
// process per test).
#include <gtest/gtest.h>

#include <cstring>

#include <fmt/format.h>

#include "hw/platform/platform.h"
#include "sw/fs/mmfs/format.h"
#include "tb/top/machine.h"
#include "tb/top/run.h"
#include "tb/top/storage.h"

namespace tb {
namespace {

// Runs the scenario to its end (the final sync included).
std::unique_ptr<sim::Machine> run_to_end(const std::string& scenario) {
  sim::RunOptions opts;
  opts.scenario = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/storage/" + scenario;
  opts.progress = false;
  opts.sets = {"workload.processes[0].ops[0].file_read.count=4"};  // 256 KiB read: enough
  auto m = std::make_unique<sim::Machine>(opts);
  EXPECT_EQ(m->platform().run(), "");
  m->platform().finish();
  return m;
}

// The first file's first data block: mmfs puts it after the superblock and one block of inodes.
uint64_t data_start(hw::BlockDevice& disk) {
  fw::mmfs::super_block_disk sb;
  disk.read_media(0, &sb, sizeof sb);
  return sb.data_start_block * sb.block_size;
}

TEST(StorageCheck, ACorruptedByteOnTheDiskFailsTheRunNamingFileOffsetAndValues) {
  auto m = run_to_end("seq-read.yaml");
  ASSERT_EQ(m->storage().check(), "") << "the run itself leaves the disk as the shadow expects";
  hw::BlockDevice& disk = *m->platform().block_device("disk0");
  const uint64_t at = data_start(disk) + 0x12345;
  uint8_t b = 0;
  disk.read_media(at, &b, 1);
  const uint8_t flipped = static_cast<uint8_t>(b ^ 0x40);
  disk.write_media(at, &flipped, 1);
  const std::string problem = m->storage().check();
  EXPECT_NE(problem.find("file data: byte 0x12345"), std::string::npos) << problem;
  EXPECT_NE(problem.find(fmt::format("is {:#04x}, expected {:#04x}", flipped, b)), std::string::npos) << problem;
  EXPECT_EQ(problem.find('\n'), std::string::npos) << "one line";
}

TEST(StorageCheck, AWrongSizeInTheInodeFailsTheRun) {
  auto m = run_to_end("seq-read.yaml");
  hw::BlockDevice& disk = *m->platform().block_device("disk0");
  fw::mmfs::super_block_disk sb;
  disk.read_media(0, &sb, sizeof sb);
  fw::mmfs::inode_disk ino;
  const uint64_t at = uint64_t{sb.inode_table_block} * sb.block_size;
  disk.read_media(at, &ino, sizeof ino);
  ino.size -= 1;  // as if the last write's size update never reached the disk
  disk.write_media(at, &ino, sizeof ino);
  const std::string problem = m->storage().check();
  EXPECT_NE(problem.find("file data: size on the disk 16777215, expected 16777216"), std::string::npos) << problem;
}

}  // namespace
}  // namespace tb
