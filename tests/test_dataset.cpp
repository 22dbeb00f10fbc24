// Dataset files: the prepared Fashion-MNIST files, and the matrix round trip used by predict.
#include <gtest/gtest.h>

#include <filesystem>

#include "models/model.h"
#include "tests/test_util.h"

namespace qs4d {
namespace {

std::string prepared(const std::string& name) {
  return test::fixtures_dir() + "/datasets/" + name;
}

TEST(Dataset, FashionMnistSequences) {
  for (int64_t L : {784, 196}) {
    const std::string path = prepared("fashion_mnist_" + std::to_string(L) + "_test.h5");
    ASSERT_TRUE(std::filesystem::exists(path))
        << path << " is missing: ctest writes it in its prepare_datasets step";
    const Dataset d = load_dataset(path, 500);
    EXPECT_EQ(d.x.n, 500);
    EXPECT_EQ(d.x.length, L);
    EXPECT_EQ(d.x.width, 1);
    EXPECT_EQ(d.n_classes, 10);
    ASSERT_EQ(d.y.size(), 500u);
    std::vector<int> per_class(10, 0);
    for (int64_t y : d.y) per_class[static_cast<size_t>(y)]++;
    for (int n : per_class) EXPECT_GT(n, 20);  // all ten classes are present
    float lo = 1, hi = 0;
    for (float v : d.x.values) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    EXPECT_EQ(lo, 0.0f);
    EXPECT_LE(hi, 1.0f);
    EXPECT_GT(hi, 0.9f);
  }
  // The full test split.
  EXPECT_EQ(load_dataset(prepared("fashion_mnist_196_test.h5")).x.n, 10000);
}

TEST(Dataset, MatrixRoundTripIsAtomic) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "qs4d_matrix_roundtrip.h5").string();
  RowMatrixXf m(3, 4);
  m << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12.5;
  write_matrix(path, "/logits", m);
  EXPECT_EQ(read_matrix(path, "/logits"), m);
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::temp_directory_path())) {
    EXPECT_EQ(entry.path().string().find("qs4d_matrix_roundtrip.h5.tmp"), std::string::npos);
  }
  std::filesystem::remove(path);
}

TEST(Dataset, ReadSequencesNamesTheDataset) {
  const auto manifest = test::manifest();
  const std::string io = manifest["models"][1]["io"];
  const SequenceBatch x = read_sequences(io, "x");
  EXPECT_EQ(x.width, 3);
  try {
    read_sequences(io, "/inputs");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kMissingObject);
    EXPECT_EQ(e.object(), "/inputs");
  }
  // Logits are rank 2, not sequences.
  EXPECT_THROW(read_sequences(io, "/logits"), FormatError);
}

}  // namespace
}  // namespace qs4d
