//! Audio in: WAV files (16-bit or float, any channel count) to 16 kHz mono float samples, and
//! faster-whisper's log-mel features, the Slaney-style mel filter bank Whisper was trained with (librosa's
//! `filters.mel(sr=16000, n_fft=400, n_mels=80)`).

use std::path::Path;

pub const SAMPLE_RATE: u32 = 16_000;

/// Why the audio could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}")]
pub struct AudioError {
    pub path: String,
    pub why: String,
}

/// Samples of a WAV file as 16 kHz mono in [-1, 1], as faster-whisper's `decode_audio` gets
/// them through PyAV: 16-bit files mixed and resampled in 16-bit as libswresample does it
/// (`crate::swr`), other sample formats the same way in floating point.
pub fn load_wav(path: &Path) -> Result<Vec<f32>, AudioError> {
    let err = |why: String| AudioError { path: path.display().to_string(), why };
    let mut r = hound::WavReader::open(path).map_err(|e| err(e.to_string()))?;
    let spec = r.spec();
    let ch = spec.channels.max(1) as usize;
    if spec.sample_format == hound::SampleFormat::Int && spec.bits_per_sample == 16 {
        let raw: Vec<i16> = r.samples::<i16>().collect::<Result<_, _>>().map_err(|e| err(e.to_string()))?;
        let mono: Vec<i16> = raw.chunks(ch).map(mix_i16).collect();
        let out = crate::swr::resample_i16(&mono, spec.sample_rate, SAMPLE_RATE);
        return Ok(out.iter().map(|&v| v as f32 / 32768.0).collect());
    }
    let raw: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>().map_err(|e| err(e.to_string()))?,
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 / scale))
                .collect::<Result<_, _>>()
                .map_err(|e| err(e.to_string()))?
        }
    };
    let mono: Vec<f32> = raw.chunks(ch).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect();
    Ok(crate::swr::resample_f32(&mono, spec.sample_rate, SAMPLE_RATE))
}

/// One frame to mono as swr's 16-bit rematrix does: two channels at 0.5 each in 15-bit fixed
/// point, rounded half up; more channels averaged.
fn mix_i16(frame: &[i16]) -> i16 {
    match frame {
        [m] => *m,
        [l, r] => ((16384 * *l as i32 + 16384 * *r as i32 + 16384) >> 15) as i16,
        _ => (frame.iter().map(|&v| v as i32).sum::<i32>() / frame.len().max(1) as i32) as i16,
    }
}

/// Samples per STFT frame hop and the FFT size of Whisper's features.
pub const HOP: usize = 160;
pub const N_FFT: usize = 400;

/// faster-whisper's `FeatureExtractor` (`feature_extractor.py`), step for step: 160 zero
/// samples appended, a centred STFT (reflect padding, periodic Hann window of 400, hop 160),
/// the last frame dropped, power through the mel `filters` (`n_mels × 201`), `log10` of at
/// least 1e-10, floored at the maximum − 8, then `(x + 4) / 4`. Row-major `n_mels × frames`,
/// `frames = samples / 160 + 1`, the normalisation over this audio only (a window is padded
/// with zeros after, as faster-whisper's `pad_or_trim` pads it).
pub fn log_mel(samples: &[f32], filters: &[f32], n_mels: usize) -> (Vec<f32>, usize) {
    let mut x = samples.to_vec();
    x.extend(std::iter::repeat_n(0.0, HOP));
    let padded = reflect_pad(&x, N_FFT / 2);
    let frames = 1 + (padded.len() - N_FFT) / HOP - 1;
    let window: Vec<f32> =
        (0..N_FFT).map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()) as f32).collect();
    let bins = N_FFT / 2 + 1;
    let fft = rustfft::FftPlanner::<f64>::new().plan_fft_forward(N_FFT);
    let mut buf = vec![rustfft::num_complex::Complex64::default(); N_FFT];
    let mut power = vec![0f32; bins];
    let mut mel = vec![0f32; n_mels * frames];
    for t in 0..frames {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = ((padded[t * HOP + i] * window[i]) as f64).into();
        }
        fft.process(&mut buf);
        for (p, b) in power.iter_mut().zip(&buf) {
            *p = (b.re as f32).powi(2) + (b.im as f32).powi(2);
        }
        for m in 0..n_mels {
            let row = &filters[m * bins..(m + 1) * bins];
            let e: f32 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
            mel[m * frames + t] = e.max(1e-10).log10();
        }
    }
    let floor = mel.iter().copied().fold(f32::NEG_INFINITY, f32::max) - 8.0;
    for v in mel.iter_mut() {
        *v = (v.max(floor) + 4.0) / 4.0;
    }
    (mel, frames)
}

/// numpy's `pad(x, n, mode="reflect")`: mirrored about the first and last samples, which
/// are not repeated (shorter inputs reflect back and forth).
fn reflect_pad(x: &[f32], n: usize) -> Vec<f32> {
    let len = x.len() as i64;
    let at = |i: i64| -> f32 {
        if len == 1 {
            return x[0];
        }
        let period = 2 * (len - 1);
        let mut j = i.rem_euclid(period);
        if j >= len {
            j = period - j;
        }
        x[j as usize]
    };
    (-(n as i64)..len + n as i64).map(at).collect()
}

fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let (min_log_hz, logstep) = (1000.0, (6.4f64).ln() / 27.0);
    if f >= min_log_hz {
        min_log_hz / f_sp + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let (min_log_hz, logstep) = (1000.0, (6.4f64).ln() / 27.0);
    let min_log_mel = min_log_hz / f_sp;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// `n_mels × (n_fft/2 + 1)` filter weights, row-major, Slaney-normalised.
pub fn mel_filters(sr: f64, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins).map(|i| i as f64 * sr / n_fft as f64).collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64)).collect();
    let mut w = vec![0f32; n_mels * bins];
    for m in 0..n_mels {
        let enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
        for (k, f) in fft_freqs.iter().enumerate() {
            let lower = (f - mel_f[m]) / (mel_f[m + 1] - mel_f[m]);
            let upper = (mel_f[m + 2] - f) / (mel_f[m + 2] - mel_f[m + 1]);
            w[m * bins + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips_and_filters_match_librosa() {
        for f in [0.0, 500.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 1e-6);
        }
        let w = mel_filters(16000.0, 400, 80);
        assert_eq!(w.len(), 80 * 201);
        // librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)[0, 1] and [79].max()
        assert!((w[1] - 0.024_862_595).abs() < 1e-6, "{}", w[1]);
        let last_max = w[79 * 201..].iter().copied().fold(0f32, f32::max);
        assert!((last_max - 0.003_164_712).abs() < 1e-6, "{last_max}");
    }

    #[test]
    fn reflect_pad_is_numpys() {
        // numpy.pad([1, 2, 3, 4], 2, mode="reflect") == [3, 2, 1, 2, 3, 4, 3, 2]
        assert_eq!(reflect_pad(&[1.0, 2.0, 3.0, 4.0], 2), vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]);
    }

    #[test]
    fn log_mel_has_faster_whispers_frames_and_floor() {
        let filters = mel_filters(16000.0, N_FFT, 80);
        // One second of a 440 Hz tone: 16000 / 160 + 1 frames.
        let tone: Vec<f32> = (0..16000).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 16000.0).sin()).collect();
        let (mel, frames) = log_mel(&tone, &filters, 80);
        assert_eq!(frames, 101);
        assert_eq!(mel.len(), 80 * 101);
        let max = mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let min = mel.iter().copied().fold(f32::INFINITY, f32::min);
        // The floor is the maximum − 8 before (x + 4) / 4, so two units apart after.
        assert!((max - min - 2.0).abs() < 1e-5, "{max} {min}");
        // The tone's band (about mel bin 11 at 440 Hz) is the loudest row mid-clip.
        let mid: Vec<f32> = (0..80).map(|m| mel[m * frames + 50]).collect();
        let loudest = (0..80).max_by(|&a, &b| mid[a].total_cmp(&mid[b])).unwrap_or(0);
        assert!((9..=13).contains(&loudest), "loudest mel row {loudest}");
    }

    #[test]
    fn two_channels_mix_as_swr_rounds() {
        assert_eq!(mix_i16(&[3, 4]), 4);
        assert_eq!(mix_i16(&[-3, -4]), -3);
        assert_eq!(mix_i16(&[7]), 7);
    }
}
