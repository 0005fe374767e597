/*
 * libsrtp 3 API bridge over Debian's libsrtp2 (live-commerce build script).
 *
 * mediasoup >= 3.15 builds against a fork of libsrtp 3 (versatica/libsrtp)
 * which Debian does not package, and `#include <srtp.h>`s it. This header sits
 * first on mediasoup's include path under that name and implements exactly
 * the libsrtp 3 surface mediasoup's worker uses on top of <srtp2/srtp.h>:
 *
 *   - srtp_protect / srtp_unprotect / srtp_protect_rtcp / srtp_unprotect_rtcp
 *     with separate in/out buffers and size_t lengths (libsrtp2: in place,
 *     int* length);
 *   - srtp_stream_remove (libsrtp2: srtp_remove_stream);
 *   - the error codes srtp_err_status_buffer_small / _cryptex_err;
 *   - the opaque policy builder srtp_policy_create / _destroy / _set_ssrc /
 *     _set_profile / _add_key / _set_allow_repeat_tx / _set_window_size and
 *     srtp_create(srtp_t*, srtp_policy_t).
 *
 * The libsrtp 3 entry points are C++ inline overloads next to libsrtp2's
 * extern "C" functions of the same name (different parameter lists), so no
 * libsrtp2 symbol is renamed. MKI is not supported (mediasoup never uses it):
 * srtp_policy_add_key() rejects an MKI and the mki_index arguments are
 * ignored, as libsrtp 3 does for a session without MKI.
 */

#ifndef LIVE_COMMERCE_LIBSRTP3_BRIDGE_H
#define LIVE_COMMERCE_LIBSRTP3_BRIDGE_H

#ifndef __cplusplus
#error "the libsrtp3-over-libsrtp2 bridge is C++ only (it uses overloads)"
#endif

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

// libsrtp2 names its policy *struct* srtp_policy_t, while libsrtp 3 uses that
// name for an opaque handle. Rename libsrtp2's type while including it: this
// only renames a C type, no linker symbol.
#define srtp_policy_t srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t

// The two codes below extend libsrtp2's list; make sure nothing else does.
static_assert(
  srtp_err_status_pkt_idx_adv == 27,
  "libsrtp2's srtp_err_status_t changed: review the libsrtp3 bridge error codes");

/* Error codes libsrtp 3 adds after libsrtp2's last one (27). */
inline constexpr srtp_err_status_t srtp_err_status_buffer_small =
  static_cast<srtp_err_status_t>(28);
inline constexpr srtp_err_status_t srtp_err_status_cryptex_err =
  static_cast<srtp_err_status_t>(29);

/* Opaque policy (libsrtp 3) wrapping a libsrtp2 policy and its key buffer. */
struct live_commerce_srtp3_policy
{
	srtp2_policy_t policy;
	unsigned char key[SRTP_MAX_KEY_LEN];
};

typedef live_commerce_srtp3_policy* srtp_policy_t;

inline srtp_err_status_t srtp_policy_create(srtp_policy_t* policy)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	// Value-initialised: every libsrtp2 field (keys, ekt, xtn headers, next...)
	// starts as 0 / nullptr, and window_size 0 means libsrtp2's default.
	*policy = new (std::nothrow) live_commerce_srtp3_policy{};

	if (*policy == nullptr)
		return srtp_err_status_alloc_fail;

	(*policy)->policy.key = (*policy)->key;

	return srtp_err_status_ok;
}

inline void srtp_policy_destroy(srtp_policy_t policy)
{
	if (policy != nullptr)
	{
		// Do not leave key material behind in freed memory.
		std::memset(policy->key, 0, sizeof(policy->key));
		delete policy;
	}
}

inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t policy, srtp_ssrc_t ssrc)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.ssrc = ssrc;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t policy, srtp_profile_t profile)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	// Same as libsrtp 3: RTP and RTCP crypto policies from the DTLS-SRTP profile
	// (for *_sha1_32, RTCP keeps an 80-bit tag, as RFC 5764 requires).
	srtp_err_status_t err =
	  srtp_crypto_policy_set_from_profile_for_rtp(&policy->policy.rtp, profile);

	if (err != srtp_err_status_ok)
		return err;

	return srtp_crypto_policy_set_from_profile_for_rtcp(&policy->policy.rtcp, profile);
}

inline srtp_err_status_t srtp_policy_add_key(
  srtp_policy_t policy,
  const uint8_t* key,
  size_t key_len,
  const uint8_t* salt,
  size_t salt_len,
  const uint8_t* mki,
  size_t mki_len)
{
	if (policy == nullptr || key == nullptr || (salt == nullptr && salt_len != 0))
		return srtp_err_status_bad_param;

	// MKI is not supported by this bridge (mediasoup does not use it).
	if (mki != nullptr || mki_len != 0)
		return srtp_err_status_bad_param;

	if (key_len + salt_len > sizeof(policy->key))
		return srtp_err_status_bad_param;

	// libsrtp2 wants master key and salt concatenated, and its crypto policy
	// says how long that must be: reject a mismatch instead of reading past it.
	const int expected = policy->policy.rtp.cipher_key_len;

	if (expected != 0 && static_cast<size_t>(expected) != key_len + salt_len)
		return srtp_err_status_bad_param;

	std::memcpy(policy->key, key, key_len);

	if (salt_len != 0)
		std::memcpy(policy->key + key_len, salt, salt_len);

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(srtp_policy_t policy, bool allow)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.allow_repeat_tx = allow ? 1 : 0;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_window_size(srtp_policy_t policy, size_t window_size)
{
	// libsrtp2 validates the range (64 .. 0x7fff) when the stream is created.
	if (policy == nullptr || window_size > 0x7fff)
		return srtp_err_status_bad_param;

	policy->policy.window_size = static_cast<unsigned long>(window_size);

	return srtp_err_status_ok;
}

/* srtp_create(srtp_t*, srtp_policy_t): libsrtp2 takes the policy struct. */
inline srtp_err_status_t srtp_create(srtp_t* session, srtp_policy_t policy)
{
	const srtp2_policy_t* p = (policy != nullptr) ? &policy->policy : nullptr;

	return ::srtp_create(session, p);
}

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return ::srtp_remove_stream(session, ssrc);
}

/*
 * Packet processing. libsrtp2 works in place and may append up to
 * SRTP_MAX_TRAILER_LEN bytes (+4 for the SRTCP index): copy the input into the
 * output buffer first and require that much room, returning buffer_small
 * otherwise, as libsrtp 3 does.
 */
inline srtp_err_status_t srtp_protect(
  srtp_t ctx,
  const uint8_t* rtp,
  size_t rtp_len,
  uint8_t* srtp,
  size_t* srtp_len,
  size_t /*mki_index*/)
{
	if (rtp == nullptr || srtp == nullptr || srtp_len == nullptr)
		return srtp_err_status_bad_param;

	if (rtp_len > static_cast<size_t>(INT_MAX) - SRTP_MAX_TRAILER_LEN)
		return srtp_err_status_bad_param;

	if (*srtp_len < rtp_len + SRTP_MAX_TRAILER_LEN)
		return srtp_err_status_buffer_small;

	if (srtp != rtp)
		std::memmove(srtp, rtp, rtp_len);

	int len = static_cast<int>(rtp_len);
	const srtp_err_status_t err = ::srtp_protect(ctx, srtp, &len);

	if (err != srtp_err_status_ok)
		return err;

	*srtp_len = static_cast<size_t>(len);

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtp_len, uint8_t* rtp, size_t* rtp_len)
{
	if (srtp == nullptr || rtp == nullptr || rtp_len == nullptr)
		return srtp_err_status_bad_param;

	if (srtp_len > static_cast<size_t>(INT_MAX))
		return srtp_err_status_bad_param;

	if (*rtp_len < srtp_len)
		return srtp_err_status_buffer_small;

	if (rtp != srtp)
		std::memmove(rtp, srtp, srtp_len);

	int len = static_cast<int>(srtp_len);
	const srtp_err_status_t err = ::srtp_unprotect(ctx, rtp, &len);

	if (err != srtp_err_status_ok)
		return err;

	*rtp_len = static_cast<size_t>(len);

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx,
  const uint8_t* rtcp,
  size_t rtcp_len,
  uint8_t* srtcp,
  size_t* srtcp_len,
  size_t /*mki_index*/)
{
	if (rtcp == nullptr || srtcp == nullptr || srtcp_len == nullptr)
		return srtp_err_status_bad_param;

	if (rtcp_len > static_cast<size_t>(INT_MAX) - SRTP_MAX_TRAILER_LEN - 4)
		return srtp_err_status_bad_param;

	if (*srtcp_len < rtcp_len + SRTP_MAX_TRAILER_LEN + 4)
		return srtp_err_status_buffer_small;

	if (srtcp != rtcp)
		std::memmove(srtcp, rtcp, rtcp_len);

	int len = static_cast<int>(rtcp_len);
	const srtp_err_status_t err = ::srtp_protect_rtcp(ctx, srtcp, &len);

	if (err != srtp_err_status_ok)
		return err;

	*srtcp_len = static_cast<size_t>(len);

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcp_len, uint8_t* rtcp, size_t* rtcp_len)
{
	if (srtcp == nullptr || rtcp == nullptr || rtcp_len == nullptr)
		return srtp_err_status_bad_param;

	if (srtcp_len > static_cast<size_t>(INT_MAX))
		return srtp_err_status_bad_param;

	if (*rtcp_len < srtcp_len)
		return srtp_err_status_buffer_small;

	if (rtcp != srtcp)
		std::memmove(rtcp, srtcp, srtcp_len);

	int len = static_cast<int>(srtcp_len);
	const srtp_err_status_t err = ::srtp_unprotect_rtcp(ctx, rtcp, &len);

	if (err != srtp_err_status_ok)
		return err;

	*rtcp_len = static_cast<size_t>(len);

	return srtp_err_status_ok;
}

#endif /* LIVE_COMMERCE_LIBSRTP3_BRIDGE_H */
