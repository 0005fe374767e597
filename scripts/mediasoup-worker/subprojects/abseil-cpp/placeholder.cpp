// Source of the empty placeholder static library in meson.build.
using live_commerce_placeholder_t = int;
