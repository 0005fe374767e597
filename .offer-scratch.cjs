const wrtc = require('@roamhq/wrtc');
(async () => {
  const pc = new wrtc.RTCPeerConnection();
  const vs = new wrtc.nonstandard.RTCVideoSource();
  const as = new wrtc.nonstandard.RTCAudioSource();
  pc.addTransceiver(vs.createTrack(), { direction: 'sendonly' });
  pc.addTransceiver(as.createTrack(), { direction: 'sendonly' });
  const offer = await pc.createOffer();
  console.log(offer.sdp);
  console.log(typeof wrtc.RTCRtpSender.getCapabilities, JSON.stringify(wrtc.RTCRtpSender.getCapabilities?.('video')?.codecs?.map(c=>c.mimeType+' '+(c.sdpFmtpLine||''))));
  const t = pc.getTransceivers()[0];
  console.log('setCodecPreferences', typeof t.setCodecPreferences);
  pc.close();
})();
