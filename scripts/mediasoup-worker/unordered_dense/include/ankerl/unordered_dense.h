/*
 * Stand-in for ankerl::unordered_dense (live-commerce build script).
 *
 * mediasoup's worker uses martinus/unordered_dense, which Debian 12 does not
 * package. Its map/set/hash are aliased onto the standard containers here:
 * the same interface for what mediasoup uses (find/emplace/try_emplace/erase/
 * contains/iteration), with std::unordered_map's stronger iterator stability,
 * only slower. mediasoup does not depend on unordered_dense's insertion-order
 * iteration or its values() vector.
 */

#ifndef LIVE_COMMERCE_ANKERL_UNORDERED_DENSE_ALIAS_H
#define LIVE_COMMERCE_ANKERL_UNORDERED_DENSE_ALIAS_H

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>

// Not the real library: let code that wants to tell the two apart do so.
#define LIVE_COMMERCE_UNORDERED_DENSE_IS_STD_ALIAS 1

namespace ankerl::unordered_dense
{
	// ankerl's hash<T> returns uint64_t; std::hash<T> returns size_t, which is
	// the same type on the 64-bit targets this is built for.
	static_assert(sizeof(std::size_t) == sizeof(std::uint64_t), "64-bit targets only");

	template<class T, class Enable = void>
	struct hash : std::hash<T>
	{
	};

	template<
	  class Key,
	  class T,
	  class Hash      = hash<Key>,
	  class KeyEqual  = std::equal_to<Key>,
	  class Allocator = std::allocator<std::pair<const Key, T>>>
	using map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

	template<
	  class Key,
	  class Hash      = hash<Key>,
	  class KeyEqual  = std::equal_to<Key>,
	  class Allocator = std::allocator<Key>>
	using set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;
} // namespace ankerl::unordered_dense

#endif
