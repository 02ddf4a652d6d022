import { describe, expect, it } from 'vitest'
import {
  decodeName,
  decodeWith,
  Enc,
  encodeName,
  encodeWith,
  FICHIER_ENCODING,
  forbiddenOnService,
} from '../../src/client/names.js'

// Vectors from rclone's own generated tests (lib/encoder/encoder_cases_test.go, rclone
// v1.60.1), keeping only the cases whose mask uses nothing but flags of the fichier
// encoding: every single-flag case and the LeftSpace/RightSpace edge cases. (All 477 such
// cases were checked when this file was written; a sample is kept to keep the file small.)
// Each is [mask, raw name, encoded name]; rclone checks both directions, and so do we.
const RCLONE_CASES: [string, string, string][] = [
  ['None', '；2π\x15ｊ８␆aｗ␑k`\x04β\x00σ`τ７＜;R\x05␀τ？β7７␌', '；2π\x15ｊ８␆aｗ␑k`\x04β␀σ`τ７＜;R\x05‛␀τ？β7７␌'],
  ['Slash', '：＜VＪｇ｜Ｋ;/+\x10／φ␄/π\x0c:ρRα\x1fζ␃＜VLν＜ｑ', '：＜VＪｇ｜Ｋ;／+\x10‛／φ␄／π\x0c:ρRα\x1fζ␃＜VLν＜ｑ'],
  ['SingleQuote', 'γ␗＇Ｐｎ\x07χ%ε＼[υ\x1d␅］ζM2ω＇␆$\x12ＡＮ｜^\'\x0d\x10', 'γ␗‛＇Ｐｎ\x07χ%ε＼[υ\x1d␅］ζM2ω‛＇␆$\x12ＡＮ｜^＇\x0d\x10'],
  ['BackQuote', '#␜θWfｃＲ␟(␍｀\x18Ｖ６τη\x10／*mυ\x15␂\x13␚βw｛`ρ', '#␜θWfｃＲ␟(␍‛｀\x18Ｖ６τη\x10／*mυ\x15␂\x13␚βw｛｀ρ'],
  ['LtGt', '４␕>ｏ*\x07Ｐι,␚Pυ\x0b＜\x0f␙！９tπ＞<␐\x1e(ης␀oε', '４␕＞ｏ*\x07Ｐι,␚Pυ\x0b‛＜\x0f␙！９tπ‛＞＜␐\x1e(ης‛␀oε'],
  ['Dollar', '%$;Ｘτ\x01］^εE＄π\x01＆＃␖␔＆ψ␆ι～／\x03~]\x04θ？R', '%＄;Ｘτ\x01］^εE‛＄π\x01＆＃␖␔＆ψ␆ι～／\x03~]\x04θ？R'],
  ['DoubleQuote', 'ωQ＝λ：γ＂＂␈ε／#Ｒ"!\\␇*:Ｙ\x09８\x1b?π␎ν\x17␋=', 'ωQ＝λ：γ‛＂‛＂␈ε／#Ｒ＂!\\␇*:Ｙ\x09８\x1b?π␎ν\x17␋='],
  ['BackSlash', 'DδＭ＊ξ␄\x14ρ＂ζ␝␕Ｔ\x17｀φ!\x14Ｏ\x19\'d\\/γＷＪ\x08＼:', 'DδＭ＊ξ␄\x14ρ＂ζ␝␕Ｔ\x17｀φ!\x14Ｏ\x19\'d＼/γＷＪ\x08‛＼:'],
  ['Del', 'Fｇ！％＞π\x1d\x0dY␡μ*＊0｜ν\x1eVχI３`␘\x1d␓？δ\x7f␉ω', 'Fｇ！％＞π\x1d\x0dY‛␡μ*＊0｜ν\x1eVχI３`␘\x1d␓？δ␡␉ω'],
  ['Ctl', '␖d\x14\x0b␟\x00␇\x03␜␈␊\x0c␑\x1c␂␕␘␓␃＊\x1d／\x0a*␔"\x07␉\x05␞␁\x0e\x19\x7f␙v\x1eP␆␋\x17ｎ\x12\x04␛\x0d\x1b␚\x1a\x17␛\x18\x1f\x0fδ\x13␍␚\x10\x07␕:\x11\x16ς␏␅λ\x08π\x06：␒δ>\x02ｏ␖␌＆６␎Ｖ\x15␄␝\x1e␐␗\x01\x09οZ', '‛␖d␔␋‛␟␀‛␇␃‛␜‛␈‛␊␌‛␑␜‛␂‛␕‛␘‛␓‛␃＊␝／␊*‛␔"␇‛␉␅‛␞‛␁␎␙\x7f‛␙v␞P‛␆‛␋␗ｎ␒␄‛␛␍␛‛␚␚␗‛␛␘␟␏δ␓‛␍‛␚␐␇‛␕:␑␖ς‛␏‛␅λ␈π␆：‛␒δ>␂ｏ‛␖‛␌＆６‛␎Ｖ␕‛␄‛␝␞‛␐‛␗␁␉οZ'],
  ['LeftSpace', ' ', '␠'],
  ['LeftSpace', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv'],
  ['LeftSpace', ' ␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv', '␠␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv'],
  ['LeftSpace', '␠␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv', '‛␠␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv'],
  ['LeftSpace', ' π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v', '␠π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v'],
  ['LeftSpace', '␠π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v', '‛␠π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v'],
  ['LeftSpace', ' π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠', '␠π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠'],
  ['LeftSpace', '␠π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠', '‛␠π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠'],
  ['LeftSpace', '␟ ，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv', '␟ ，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv'],
  ['LeftSpace', '␟␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv', '␟␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ιv'],
  ['LeftSpace', '␟ ，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v', '␟ ，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v'],
  ['LeftSpace', '␟␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v', '␟␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v'],
  ['LeftSpace', '␟ ，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠', '␟ ，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠'],
  ['LeftSpace', '␟␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠', '␟␠，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠'],
  ['LeftSpace', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ v', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ v'],
  ['LeftSpace', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠v'],
  ['LeftSpace', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ ␠', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ ␠'],
  ['LeftSpace', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠␠', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆␠␠'],
  ['LeftSpace', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι ', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι '],
  ['LeftSpace', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠', '␟π，；θSc\x16｝＃ ａ｀\x06３\x1b\x10j\x06<␂：φζA５*␆ι␠'],
  ['RightSpace', ' ', '␠'],
  ['RightSpace', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο'],
  ['RightSpace', ' ␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο', ' ␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο'],
  ['RightSpace', '␠␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο', '␠␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο'],
  ['RightSpace', ' ＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο', ' ＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο'],
  ['RightSpace', '␠＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο', '␠＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο'],
  ['RightSpace', ' ＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7␠', ' ＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7‛␠'],
  ['RightSpace', '␠＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7␠', '␠＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7‛␠'],
  ['RightSpace', '， ␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο', '， ␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο'],
  ['RightSpace', '，␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο', '，␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7ο'],
  ['RightSpace', '， ␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο', '， ␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο'],
  ['RightSpace', '，␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο', '，␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο'],
  ['RightSpace', '， ␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7␠', '， ␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7‛␠'],
  ['RightSpace', '，␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7␠', '，␠␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7‛␠'],
  ['RightSpace', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν ο', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν ο'],
  ['RightSpace', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠ο'],
  ['RightSpace', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν ␠', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν ‛␠'],
  ['RightSpace', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠␠', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν␠‛␠'],
  ['RightSpace', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7 ', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7␠'],
  ['RightSpace', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7␠', '，＇␏\x0fη\'␟ζＶς \x05＼/＜V\x06␝/OλzＯｌ"Ｏ\x0fν7‛␠'],
  ['LeftSpace', '  ', '␠ '],
  ['RightSpace', '  ', ' ␠'],
  ['LeftSpace,RightSpace', ' ', '␠'],
  ['LeftSpace,RightSpace', '  ', '␠␠'],
  ['LeftSpace,RightSpace', '   ', '␠ ␠'],
  ['LeftSpace,RightSpace', '  \x0aχ＄SＺWα\x1c\x1d＂τ＠７＠αe␚ＭL\x138*␐７\x08␍ δ', '␠ \x0aχ＄SＺWα\x1c\x1d＂τ＠７＠αe␚ＭL\x138*␐７\x08␍ δ'],
  ['LeftSpace,RightSpace', '␠ \x0aχ＄SＺWα\x1c\x1d＂τ＠７＠αe␚ＭL\x138*␐７\x08␍ δ', '‛␠ \x0aχ＄SＺWα\x1c\x1d＂τ＠７＠αe␚ＭL\x138*␐７\x08␍ δ'],
  ['LeftSpace,RightSpace', '␜ \x0aχ＄SＺWα\x1c\x1d＂τ＠７＠αe␚ＭL\x138*␐７\x08␍  ', '␜ \x0aχ＄SＺWα\x1c\x1d＂τ＠７＠αe␚ＭL\x138*␐７\x08␍ ␠'],
  ['LeftSpace,RightSpace', '␜ \x0aχ＄SＺWα\x1c\x1d＂τ＠７＠αe␚ＭL\x138*␐７\x08␍ ␠', '␜ \x0aχ＄SＺWα\x1c\x1d＂τ＠７＠αe␚ＭL\x138*␐７\x08␍ ‛␠'],
  ['Slash,LeftSpace,RightSpace', '  σＬ\x10␊]φ］｝\x1c␛\x04４％κ\'\x06？-a：ｊqaχ＿` θ', '␠ σＬ\x10␊]φ］｝\x1c␛\x04４％κ\'\x06？-a：ｊqaχ＿` θ'],
  ['Slash,LeftSpace,RightSpace', '␠ σＬ\x10␊]φ］｝\x1c␛\x04４％κ\'\x06？-a：ｊqaχ＿` θ', '‛␠ σＬ\x10␊]φ］｝\x1c␛\x04４％κ\'\x06？-a：ｊqaχ＿` θ'],
  ['Slash,LeftSpace,RightSpace', 'ζ σＬ\x10␊]φ］｝\x1c␛\x04４％κ\'\x06？-a：ｊqaχ＿`  ', 'ζ σＬ\x10␊]φ］｝\x1c␛\x04４％κ\'\x06？-a：ｊqaχ＿` ␠'],
  ['Slash,LeftSpace,RightSpace', 'ζ σＬ\x10␊]φ］｝\x1c␛\x04４％κ\'\x06？-a：ｊqaχ＿` ␠', 'ζ σＬ\x10␊]φ］｝\x1c␛\x04４％κ\'\x06？-a：ｊqaχ＿` ‛␠'],
  ['DoubleQuote,LeftSpace,RightSpace', '  _␏Aｉb\x02＼\x18ｐｑξ]；χα␌>\\λ␏␛＊：\x1714 6', '␠ _␏Aｉb\x02＼\x18ｐｑξ]；χα␌>\\λ␏␛＊：\x1714 6'],
  ['DoubleQuote,LeftSpace,RightSpace', '␠ _␏Aｉb\x02＼\x18ｐｑξ]；χα␌>\\λ␏␛＊：\x1714 6', '‛␠ _␏Aｉb\x02＼\x18ｐｑξ]；χα␌>\\λ␏␛＊：\x1714 6'],
  ['DoubleQuote,LeftSpace,RightSpace', 'ｋ _␏Aｉb\x02＼\x18ｐｑξ]；χα␌>\\λ␏␛＊：\x1714  ', 'ｋ _␏Aｉb\x02＼\x18ｐｑξ]；χα␌>\\λ␏␛＊：\x1714 ␠'],
  ['DoubleQuote,LeftSpace,RightSpace', 'ｋ _␏Aｉb\x02＼\x18ｐｑξ]；χα␌>\\λ␏␛＊：\x1714 ␠', 'ｋ _␏Aｉb\x02＼\x18ｐｑξ]；χα␌>\\λ␏␛＊：\x1714 ‛␠'],
  ['Ctl,LeftSpace,RightSpace', '  (＆␘χ｀\x0f<:＇8\x0d\' \x11$（［γζε｝␍；_Ｎ［ ３', '␠ (＆‛␘χ｀␏<:＇8␍\' ␑$（［γζε｝‛␍；_Ｎ［ ３'],
  ['Ctl,LeftSpace,RightSpace', '␠ (＆␘χ｀\x0f<:＇8\x0d\' \x11$（［γζε｝␍；_Ｎ［ ３', '‛␠ (＆‛␘χ｀␏<:＇8␍\' ␑$（［γζε｝‛␍；_Ｎ［ ３'],
  ['Ctl,LeftSpace,RightSpace', '1 (＆␘χ｀\x0f<:＇8\x0d\' \x11$（［γζε｝␍；_Ｎ［  ', '1 (＆‛␘χ｀␏<:＇8␍\' ␑$（［γζε｝‛␍；_Ｎ［ ␠'],
  ['Ctl,LeftSpace,RightSpace', '1 (＆␘χ｀\x0f<:＇8\x0d\' \x11$（［γζε｝␍；_Ｎ［ ␠', '1 (＆‛␘χ｀␏<:＇8␍\' ␑$（［γζε｝‛␍；_Ｎ［ ‛␠'],
  ['LeftSpace,RightSpace', '  >/Ｒ\x15␝␏χχηS/＀EｉＭρ␒；1%b\x1f／９\x1cυ <', '␠ >/Ｒ\x15␝␏χχηS/＀EｉＭρ␒；1%b\x1f／９\x1cυ <'],
  ['LeftSpace,RightSpace', '␠ >/Ｒ\x15␝␏χχηS/＀EｉＭρ␒；1%b\x1f／９\x1cυ <', '‛␠ >/Ｒ\x15␝␏χχηS/＀EｉＭρ␒；1%b\x1f／９\x1cυ <'],
  ['LeftSpace,RightSpace', '␎ >/Ｒ\x15␝␏χχηS/＀EｉＭρ␒；1%b\x1f／９\x1cυ  ', '␎ >/Ｒ\x15␝␏χχηS/＀EｉＭρ␒；1%b\x1f／９\x1cυ ␠'],
  ['LeftSpace,RightSpace', '␎ >/Ｒ\x15␝␏χχηS/＀EｉＭρ␒；1%b\x1f／９\x1cυ ␠', '␎ >/Ｒ\x15␝␏χχηS/＀EｉＭρ␒；1%b\x1f／９\x1cυ ‛␠'],
  ['Slash,LeftSpace,RightSpace', '  \x08δ9τ(ξ␍ω&７ｚ｜␄εο＃｜．\x18ｘ␙<4*Ｔ: \x15', '␠ \x08δ9τ(ξ␍ω&７ｚ｜␄εο＃｜．\x18ｘ␙<4*Ｔ: \x15'],
  ['Slash,LeftSpace,RightSpace', '␠ \x08δ9τ(ξ␍ω&７ｚ｜␄εο＃｜．\x18ｘ␙<4*Ｔ: \x15', '‛␠ \x08δ9τ(ξ␍ω&７ｚ｜␄εο＃｜．\x18ｘ␙<4*Ｔ: \x15'],
  ['Slash,LeftSpace,RightSpace', 'u \x08δ9τ(ξ␍ω&７ｚ｜␄εο＃｜．\x18ｘ␙<4*Ｔ:  ', 'u \x08δ9τ(ξ␍ω&７ｚ｜␄εο＃｜．\x18ｘ␙<4*Ｔ: ␠'],
  ['Slash,LeftSpace,RightSpace', 'u \x08δ9τ(ξ␍ω&７ｚ｜␄εο＃｜．\x18ｘ␙<4*Ｔ: ␠', 'u \x08δ9τ(ξ␍ω&７ｚ｜␄εο＃｜．\x18ｘ␙<4*Ｔ: ‛␠'],
  ['DoubleQuote,LeftSpace,RightSpace', '  ｑ？ｒ*εψ>\x0fkω\\Ｏ␛␡＇S％｜σA＄\x02εＯ？\x08 =', '␠ ｑ？ｒ*εψ>\x0fkω\\Ｏ␛␡＇S％｜σA＄\x02εＯ？\x08 ='],
  ['DoubleQuote,LeftSpace,RightSpace', '␠ ｑ？ｒ*εψ>\x0fkω\\Ｏ␛␡＇S％｜σA＄\x02εＯ？\x08 =', '‛␠ ｑ？ｒ*εψ>\x0fkω\\Ｏ␛␡＇S％｜σA＄\x02εＯ？\x08 ='],
  ['DoubleQuote,LeftSpace,RightSpace', 'β ｑ？ｒ*εψ>\x0fkω\\Ｏ␛␡＇S％｜σA＄\x02εＯ？\x08  ', 'β ｑ？ｒ*εψ>\x0fkω\\Ｏ␛␡＇S％｜σA＄\x02εＯ？\x08 ␠'],
  ['DoubleQuote,LeftSpace,RightSpace', 'β ｑ？ｒ*εψ>\x0fkω\\Ｏ␛␡＇S％｜σA＄\x02εＯ？\x08 ␠', 'β ｑ？ｒ*εψ>\x0fkω\\Ｏ␛␡＇S％｜σA＄\x02εＯ？\x08 ‛␠'],
  ['Ctl,LeftSpace,RightSpace', '  :\x04｛␡τ^μι／0］;␑N&πLＺ\x1f\'ｓ\x0eωS␖␓ Ｅ', '␠ :␄｛␡τ^μι／0］;‛␑N&πLＺ␟\'ｓ␎ωS‛␖‛␓ Ｅ'],
  ['Ctl,LeftSpace,RightSpace', '␠ :\x04｛␡τ^μι／0］;␑N&πLＺ\x1f\'ｓ\x0eωS␖␓ Ｅ', '‛␠ :␄｛␡τ^μι／0］;‛␑N&πLＺ␟\'ｓ␎ωS‛␖‛␓ Ｅ'],
  ['Ctl,LeftSpace,RightSpace', '？ :\x04｛␡τ^μι／0］;␑N&πLＺ\x1f\'ｓ\x0eωS␖␓  ', '？ :␄｛␡τ^μι／0］;‛␑N&πLＺ␟\'ｓ␎ωS‛␖‛␓ ␠'],
  ['Ctl,LeftSpace,RightSpace', '？ :\x04｛␡τ^μι／0］;␑N&πLＺ\x1f\'ｓ\x0eωS␖␓ ␠', '？ :␄｛␡τ^μι／0］;‛␑N&πLＺ␟\'ｓ␎ωS‛␖‛␓ ‛␠'],
]

// Output of rclone v1.60.1's lib/encoder run with the fichier backend's default mask.
// Invalid UTF-8 bytes are written as U+DC80–U+DCFF (surrogateescape, see names.ts).
const RCLONE_FICHIER_ENCODE: [string, string][] = [
  ['file.txt', 'file.txt'],
  ['a"b', 'a＂b'],
  ['it\'s', 'it＇s'],
  ['<tag>', '＜tag＞'],
  ['$HOME', '＄HOME'],
  ['back\\slash', 'back＼slash'],
  ['back`tick', 'back｀tick'],
  ['a/b', 'a／b'],
  [' lead', '␠lead'],
  ['trail ', 'trail␠'],
  [' both ', '␠both␠'],
  ['  ', '␠␠'],
  [' ', '␠'],
  ['.', '．'],
  ['..', '．．'],
  ['...', '...'],
  ['. .', '. .'],
  ['．', '‛．'],
  ['．．', '‛．‛．'],
  ['.hidden', '.hidden'],
  ['x.', 'x.'],
  ['＂quoted＂', '‛＂quoted‛＂'],
  ['＜＞＄｀＇＼／', '‛＜‛＞‛＄‛｀‛＇‛＼‛／'],
  ['‛', '‛‛'],
  ['‛‛', '‛‛‛‛'],
  ['‛ ', '‛‛␠'],
  ['a‛‛ ', 'a‛‛‛‛␠'],
  ['␠', '‛␠'],
  ['␠x␠', '‛␠x‛␠'],
  [' ␠', '␠‛␠'],
  ['␠ ', '‛␠␠'],
  ['\x00', '␀'],
  ['\x01\x1f', '␁␟'],
  ['\x7f', '␡'],
  ['␀', '‛␀'],
  ['␁', '‛␁'],
  ['␟', '‛␟'],
  ['␡', '‛␡'],
  ['tab\x09here\x0a', 'tab␉here␊'],
  ['é😀', 'é😀'],
  ['�', '�'],
  ['a\uDCBFb', 'a‛BFb'],
  ['\uDCBF\uDCFE', '‛BF‛FE'],
  ['‛BF', '‛‛BF'],
  ['‛41', '‛‛41'],
  ['mixed "<$>" ', 'mixed ＂＜＄＞＂␠'],
  ['~tilde', '~tilde'],
  [':colon?*|#%;[]', ':colon?*|#%;[]'],
  ['trailing dot.', 'trailing dot.'],
  ['    x    ', '␠   x   ␠'],
  ['"\'<>$\\`/', '＂＇＜＞＄＼｀／'],
]

const RCLONE_FICHIER_DECODE: [string, string][] = [
  ['‛C3‛A9', 'é'],
  ['‛41', 'A'],
  ['‛bf', '\uDCBF'], // rclone yields the byte 0xBF
  ['a‛', 'a‛'],
  ['‛x', '‛x'],
  ['‛‛x', '‛x'],
  ['‛', '‛'],
  ['‛‛', '‛'],
  ['‛‛‛', '‛‛'],
  ['plain', 'plain'],
  ['＂', '"'],
  ['‛＂', '＂'],
  ['␀', '\x00'],
  ['‛␀', '␀'],
  ['␠', ' '],
  ['‛␠', '␠'],
  ['␠␠', '  '],
  ['x␠y', 'x␠y'],
  ['‛4', '‛4'],
  ['‛4g', '‛4g'],
  ['‛FF', '\uDCFF'], // byte 0xFF
  ['a‛BF‛FEb', 'a\uDCBF\uDCFEb'], // bytes 61 BF FE 62
  ['‛E2‛82', '\uDCE2\uDC82'], // bytes E2 82: a truncated sequence stays two bytes
  ['．', '.'],
  ['‛．', '．'],
  ['．．', '..'],
  ['‛．‛．', '．．'],
  ['. ', '. '],
  ['␡', '\x7f'],
  ['␁', '\x01'],
  [':＊？', ':＊？'],
]

const maskOf = (names: string): number =>
  names
    .split(',')
    .reduce((m, n) => m | (n === 'None' ? 0 : Enc[n as keyof typeof Enc]), 0)

// Small deterministic PRNG (mulberry32) so failures are reproducible.
function rng(seed: number): (n: number) => number {
  let s = seed
  return (n) => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) % n
  }
}

// Everything the encoder treats specially, the look-alikes it produces, hex digits that could
// be mistaken for ‛XX, and bytes 0xC0/0xC1/0xF5–0xFF that are invalid in any UTF-8 context.
const ALPHABET = [
  ' ', ' ', '.', 'a', 'Z', 'b', 'F', '0', '9', '~', ':', '*', '?',
  '"', "'", '<', '>', '$', '\\', '`', '/',
  '\x00', '\x01', '\x09', '\x0a', '\x1f', '\x7f',
  '＂', '＇', '＜', '＞', '＄', '｀', '＼', '／', '．', '～',
  '‛', '‛', '‛', '␀', '␁', '␉', '␟', '␠', '␠', '␡',
  'é', 'ß', '漢', '😀', '\uFFFD',
  '\uDCC0', '\uDCC1', '\uDCF5', '\uDCFE', '\uDCFF',
]

function randomName(next: (n: number) => number): string {
  let s = ''
  const len = next(12)
  for (let i = 0; i < len; i++) s += ALPHABET[next(ALPHABET.length)]
  return s
}

describe('names: rclone test vectors', () => {
  it.each(RCLONE_CASES)('rclone case %#: mask %s', (mask, raw, encoded) => {
    const m = maskOf(mask)
    expect(encodeWith(m, raw)).toBe(encoded)
    expect(decodeWith(m, encoded)).toBe(raw)
  })

  it.each(RCLONE_FICHIER_ENCODE)('encodeName(%j) is %j as in rclone', (raw, stored) => {
    expect(encodeName(raw)).toBe(stored)
    expect(decodeName(stored)).toBe(raw)
  })

  it.each(RCLONE_FICHIER_DECODE)('decodeName(%j) is %j as in rclone', (stored, raw) => {
    expect(decodeName(stored)).toBe(raw)
  })

  // rclone's hand-written cases in lib/encoder/encoder_test.go for the flags we have.
  it.each([
    [Enc.InvalidUtf8, '\uDCBF', '‛BF'],
    [Enc.InvalidUtf8, '\uDCBF\uDCFE', '‛BF‛FE'],
    [Enc.InvalidUtf8, 'a\uDCBF\uDCFEb', 'a‛BF‛FEb'],
    [Enc.InvalidUtf8, 'a\uDCBFξ\uDCFEb', 'a‛BFξ‛FEb'],
    [Enc.InvalidUtf8 | Enc.BackSlash, 'a\uDCBF\\\uDCFEb', 'a‛BF＼‛FEb'],
    [0, '\uDCBF', '\uDCBF'],
    [0, 'a\uDCBFξ\uDCFEb', 'a\uDCBFξ\uDCFEb'],
    [Enc.BackSlash, 'a\uDCBF\\\uDCFEb', 'a\uDCBF＼\uDCFEb'],
    [Enc.Zero, '.', '.'],
    [Enc.Dot, '.', '．'],
    [Enc.Zero, '..', '..'],
    [Enc.Dot, '..', '．．'],
    [Enc.Dot, '...', '...'],
    [Enc.Dot, '. .', '. .'],
  ])('TestEncodeInvalidUnicode / TestEncodeDot %#', (mask, raw, encoded) => {
    expect(encodeWith(mask, raw)).toBe(encoded)
    expect(decodeWith(mask, encoded)).toBe(raw)
  })

  it.each([
    [0, '‛', '‛'],
    [Enc.Zero, '‛‛', '‛'],
    [0, '‛a‛', '‛a‛'],
    [Enc.InvalidUtf8, 'a‛B‛Eg', 'a‛B‛Eg'],
    [Enc.InvalidUtf8, 'a‛B＼‛Eg', 'a‛B＼‛Eg'],
    [Enc.InvalidUtf8 | Enc.BackSlash, 'a‛B＼‛Eg', 'a‛B\\‛Eg'],
  ])('TestDecodeHalf %#', (mask, stored, raw) => {
    expect(decodeWith(mask, stored)).toBe(raw)
  })
})

describe('names: the fichier encoding', () => {
  it('is the flag set of rclone’s fichier backend', () => {
    expect(FICHIER_ENCODING).toBe(
      Enc.Zero |
        Enc.Slash |
        Enc.Ctl |
        Enc.Del |
        Enc.Dot |
        Enc.BackSlash |
        Enc.SingleQuote |
        Enc.BackQuote |
        Enc.DoubleQuote |
        Enc.LtGt |
        Enc.Dollar |
        Enc.LeftSpace |
        Enc.RightSpace |
        Enc.InvalidUtf8,
    )
  })

  it.each([
    ['"', '＂'],
    ["'", '＇'],
    ['<', '＜'],
    ['>', '＞'],
    ['$', '＄'],
    ['\\', '＼'],
    ['`', '｀'],
    ['/', '／'],
    ['\x7f', '␡'],
    ['\x00', '␀'],
  ])('replaces the forbidden %j inside a name', (ch, look) => {
    expect(encodeName(`a${ch}b`)).toBe(`a${look}b`)
    expect(decodeName(`a${look}b`)).toBe(`a${ch}b`)
  })

  it('replaces every control character with its control picture', () => {
    for (let c = 1; c <= 0x1f; c++) {
      const raw = `x${String.fromCharCode(c)}y`
      const stored = encodeName(raw)
      expect(stored).toBe(`x${String.fromCharCode(0x2400 + c)}y`)
      expect(decodeName(stored)).toBe(raw)
    }
  })

  it('quotes look-alikes already in the name so they survive', () => {
    for (const look of ['＂', '＇', '＜', '＞', '＄', '＼', '｀', '／', '␀', '␁', '␟', '␡', '‛']) {
      expect(encodeName(`a${look}b`)).toBe(`a‛${look}b`)
      expect(decodeName(`a‛${look}b`)).toBe(`a${look}b`)
      // Unquoted in a stored name (for example typed in the web UI) it reads as the ASCII
      // character, as rclone reads it; ‛ and ␠ are the exceptions.
    }
    expect(decodeName('a＂b')).toBe('a"b')
    // Look-alikes of characters the fichier encoding does not touch are left alone.
    expect(encodeName('～：＊？｜＃％')).toBe('～：＊？｜＃％')
    expect(decodeName('～：＊？｜＃％')).toBe('～：＊？｜＃％')
  })

  it('handles the . and .. names and their look-alikes', () => {
    expect(encodeName('.')).toBe('．')
    expect(encodeName('..')).toBe('．．')
    expect(decodeName('．')).toBe('.')
    expect(decodeName('．．')).toBe('..')
    expect(encodeName('．')).toBe('‛．')
    expect(encodeName('．．')).toBe('‛．‛．')
    expect(decodeName('‛．')).toBe('．')
    expect(decodeName('‛．‛．')).toBe('．．')
    // Only whole-name dots are special.
    expect(encodeName('...')).toBe('...')
    expect(encodeName('.config')).toBe('.config')
    expect(encodeName('a.')).toBe('a.')
    expect(encodeName('a．')).toBe('a．')
  })

  it('replaces leading and trailing spaces only', () => {
    expect(encodeName(' a')).toBe('␠a')
    expect(encodeName('a ')).toBe('a␠')
    expect(encodeName(' a b ')).toBe('␠a b␠')
    expect(encodeName('  a  ')).toBe('␠ a ␠')
    expect(encodeName(' ')).toBe('␠')
    expect(encodeName('  ')).toBe('␠␠')
    expect(encodeName('   ')).toBe('␠ ␠')
    expect(encodeName('␠a␠')).toBe('‛␠a‛␠')
    expect(encodeName('a␠b')).toBe('a␠b')
    for (const raw of [' a', 'a ', ' a b ', '  a  ', ' ', '  ', '   ', '␠a␠', 'a␠b', ' ␠', '␠ ', '␠']) {
      expect(decodeName(encodeName(raw))).toBe(raw)
    }
  })

  it('diverges from rclone only to decode ‛…‛ + trailing space correctly', () => {
    // rclone encodes 'a‛ ' as 'a‛‛␠' (so do we) but decodes that back to 'a‛␠'.
    expect(encodeName('a‛ ')).toBe('a‛‛␠')
    expect(decodeName('a‛‛␠')).toBe('a‛ ')
    expect(encodeName('a‛‛ ')).toBe('a‛‛‛‛␠')
    expect(decodeName('a‛‛‛‛␠')).toBe('a‛‛ ')
    // An odd run still quotes the ␠, exactly as rclone reads it.
    expect(decodeName('a‛␠')).toBe('a␠')
    expect(decodeName('a‛‛‛␠')).toBe('a‛␠')
  })

  it('escapes invalid UTF-8 as ‛XX, and reads ‛XX back as bytes', () => {
    expect(encodeName('a\uDCBFb')).toBe('a‛BFb')
    expect(decodeName('a‛BFb')).toBe('a\uDCBFb')
    // Bytes that together are valid UTF-8 read as text, as they would in rclone.
    expect(decodeName('‛C3‛A9')).toBe('é')
    expect(decodeName('‛41')).toBe('A')
    // A lone surrogate with no byte meaning is written as its 3-byte WTF-8 form.
    expect(encodeName('\uD800')).toBe('‛ED‛A0‛80')
    expect(encodeName('\uD83D')).toBe('‛ED‛A0‛BD')
    // U+FFFD itself is a valid character and is left alone.
    expect(encodeName('\uFFFD')).toBe('\uFFFD')
    // Lone surrogates in a stored name are bytes too, and join with ‛XX bytes.
    expect(decodeName('a\uDCBFb')).toBe('a\uDCBFb')
    expect(decodeName('‛C3\uDCA9')).toBe('é')
    // A quote that quotes nothing is kept.
    expect(decodeName('‛4')).toBe('‛4')
    expect(decodeName('‛G1')).toBe('‛G1')
    expect(decodeName('x‛')).toBe('x‛')
  })

  it('leaves ordinary names alone', () => {
    for (const name of ['file.txt', 'Photo 2024-01-01 (1).jpg', 'été', '漢字', '😀', 'a~b:c*d?e|f#g%h;[]']) {
      expect(encodeName(name)).toBe(name)
      expect(decodeName(name)).toBe(name)
    }
    expect(encodeName('')).toBe('')
    expect(decodeName('')).toBe('')
  })
})

describe('names: properties', () => {
  const next = rng(0x5eed)
  const samples: string[] = []
  for (let i = 0; i < 20000; i++) samples.push(randomName(next))

  it('decodeName(encodeName(x)) === x', () => {
    for (const raw of samples) {
      const stored = encodeName(raw)
      if (decodeName(stored) !== raw) {
        expect({ raw, stored, back: decodeName(stored) }).toEqual({ raw, stored, back: raw })
      }
    }
  })

  it('round-trips names full of replacement characters', () => {
    const tricky = ['＂', '‛', '␠', '．', '‛‛', '‛␠', '␠‛', '‛．', '．．', '‛‛‛', '␀‛', '‛BF', '‛41', '‛ ', ' ‛', '‛‛ ']
    for (const a of tricky) {
      for (const b of tricky) {
        for (const raw of [a + b, ` ${a}${b} `, `${a}x${b}`, `${a} ${b}`]) {
          expect(decodeName(encodeName(raw))).toBe(raw)
        }
      }
    }
  })

  it('never produces a name the service refuses', () => {
    for (const raw of samples) {
      if (raw === '') continue
      const stored = encodeName(raw)
      if (forbiddenOnService(stored)) expect({ raw, stored }).toBe('not forbidden')
    }
  })

  it('encodes distinct names to distinct stored names', () => {
    const seen = new Map<string, string>()
    for (const raw of samples) {
      const stored = encodeName(raw)
      const prior = seen.get(stored)
      if (prior !== undefined && prior !== raw) expect({ raw, prior }).toBe('no collision')
      seen.set(stored, raw)
    }
  })
})

describe('forbiddenOnService', () => {
  it.each(['"', "'", '<', '>', '$', '\\', '`', '/', '\x00', '\x01', '\x1f', '\x7f'])('refuses %j anywhere', (ch) => {
    expect(forbiddenOnService(`a${ch}b`)).toBe(true)
    expect(forbiddenOnService(ch)).toBe(true)
  })

  it('refuses a leading space but not an inner or trailing one', () => {
    expect(forbiddenOnService(' a')).toBe(true)
    expect(forbiddenOnService('a b')).toBe(false)
    expect(forbiddenOnService('a ')).toBe(false)
  })

  it('accepts ordinary and encoded names', () => {
    for (const name of ['file.txt', 'été', '＂＇＜＞＄＼｀／', '␠a␠', '‛', '．', 'a~b:c*d?e|f#g%h']) {
      expect(forbiddenOnService(name)).toBe(false)
    }
  })
})
