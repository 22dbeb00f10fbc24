// The digital reference of an analog evaluation (run-internal; run/analog_eval.cpp computes it,
// run/sweep.cpp shares it between the units of one mapping).
#pragma once

#include <memory>
#include <string>

#include "run/run.h"

namespace qs4d {

// The digital passes an analog evaluation is compared against: the checkpoint as stored, and the
// chip's quantized weights applied digitally (what an ideal chip must reproduce; its predictions
// are the agreement's reference). They depend on the model, the data, the chip's mapping, its
// conductance window and which products are analog, and on nothing random: reference_key names
// that, so a sweep computes them once per distinct key instead of once per (point, trial).
// The mapped model and the engine that every chip of such a run shares come with them.
struct DigitalReference {
  DigitalEvalResult float_model;  // the checkpoint as stored
  DigitalEvalResult quantized;    // the quantized weights (timings of the float pass)
  double quantized_seconds = 0;   // one pass of the quantized model
  std::shared_ptr<const MappedModel> map;
  std::shared_ptr<const DigitalEngine> engine;
};
DigitalReference digital_reference(const S4DModel& model, const Dataset& data, const ChipSpec& chip,
                                   const AnalogEvalOptions& options);
std::string reference_key(const ChipSpec& chip);

}  // namespace qs4d
