/* Source of the empty placeholder static libraries in meson.build. */
typedef int live_commerce_placeholder_t;
