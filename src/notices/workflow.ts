/**
 * Notices of the scan workflow (src/workflow) and of the other API routes that the page calls:
 * the case list and label entry (`notice.cases.`), the MRN entry (`notice.hl7.`) and the app's
 * own routes (`notice.http.`). Keys that end in a count (`.1` to `.4`) take that many list items
 * as params `view1`, `view2`, … or `check1`, `check2`, …, because a template cannot repeat.
 */
const EN = {
  // Names that other workflow notices put into their sentences.
  'notice.workflow.action.openCase': 'open a case',
  'notice.workflow.action.recordView': 'record a view',
  'notice.workflow.action.acceptView': 'accept a view',
  'notice.workflow.action.retakeView': 'retake a view',
  'notice.workflow.action.closeCase': 'close the case',
  'notice.workflow.action.abandonCase': 'abandon the case',
  'notice.workflow.option.depthCm': 'depthCm',
  'notice.workflow.option.mmPerPixel': 'mmPerPixel',
  'notice.workflow.option.durationS': 'durationS',
  'notice.workflow.unit.cm': 'cm',
  'notice.workflow.unit.kg': 'kg',
  'notice.workflow.unit.years': 'years',
  'notice.workflow.unit.mm': 'mm',
  'notice.workflow.unit.s': 's',
  'notice.workflow.unit.g/dL': 'g/dL',
  'notice.workflow.caseStatus.stored': 'stored',
  'notice.workflow.caseStatus.open': 'open',
  'notice.workflow.caseStatus.closed': 'closed',
  'notice.workflow.check.too_short': 'recording too short',
  'notice.workflow.check.frozen': 'image frozen',
  'notice.workflow.check.probe_moved': 'probe moved',
  'notice.workflow.check.no_signal': 'no video signal',
  'notice.workflow.check.source_not_live': 'capture not live',
  'notice.workflow.check.frame_size_changed': 'video size changed',
  'notice.workflow.check.vessel_not_found': 'vessel not found',
  'notice.workflow.check.vessel_lost': 'vessel lost',
  'notice.workflow.check.seed_outside_frame': 'marked point outside the image',
  'notice.workflow.check.no_pulsation': 'no pulsation',
  'notice.workflow.check.analysis_failed': 'analysis failed',

  // What the operator must finish first, alone and after the action it blocks.
  'notice.workflow.busy.recording':
    'The {view:notice.vessel} view is being recorded. Stop the recording or wait for it to end.',
  'notice.workflow.busy.analysing':
    'The {view:notice.vessel} recording is being analysed. Wait for its quality check.',
  'notice.workflow.busy.review':
    'The {view:notice.vessel} recording waits for review. Accept it or retake it first.',
  'notice.workflow.busy.idle': 'No recording is in progress or under review.',
  'notice.workflow.notNow.recording':
    'Cannot {action:notice.workflow.action} now. The {view:notice.vessel} view is being ' +
    'recorded. Stop the recording or wait for it to end.',
  'notice.workflow.notNow.analysing':
    'Cannot {action:notice.workflow.action} now. The {view:notice.vessel} recording is being ' +
    'analysed. Wait for its quality check.',
  'notice.workflow.notNow.review':
    'Cannot {action:notice.workflow.action} now. The {view:notice.vessel} recording waits for ' +
    'review. Accept it or retake it first.',
  'notice.workflow.notNow.idle':
    'Cannot {action:notice.workflow.action} now. No recording is in progress or under review.',
  'notice.workflow.nothingToRetake.recording':
    'There is nothing to retake: The {view:notice.vessel} view is being recorded. Stop the ' +
    'recording or wait for it to end.',
  'notice.workflow.nothingToRetake.analysing':
    'There is nothing to retake: The {view:notice.vessel} recording is being analysed. Wait ' +
    'for its quality check.',
  'notice.workflow.nothingToRetake.review':
    'There is nothing to retake: The {view:notice.vessel} recording waits for review. Accept ' +
    'it or retake it first.',
  'notice.workflow.nothingToRetake.idle':
    'There is nothing to retake: No recording is in progress or under review.',

  // Steps that cannot be taken now.
  'notice.workflow.stopped': 'Cannot {action:notice.workflow.action}: the workflow is stopped.',
  'notice.workflow.noCase':
    'Cannot {action:notice.workflow.action}: no case is open. Open one first.',
  'notice.workflow.noReview':
    'Cannot {action:notice.workflow.action}: no recording waits for review.',
  'notice.workflow.noCaseOpen': 'No case is open. Open one and record a view first.',
  'notice.workflow.notRecording': 'No recording is in progress. Start one first.',
  'notice.workflow.caseOpen': 'Case {caseId} is open. Close or abandon it before opening another.',
  'notice.workflow.caseExists':
    'Case {caseId} already exists ({status:notice.workflow.caseStatus}). Stored cases are ' +
    'never overwritten; open the case under a new case id.',
  'notice.workflow.acceptFailed.1':
    'The {view:notice.vessel} recording failed the quality check ' +
    '({check1:notice.workflow.check}) and cannot be accepted. Retake it.',
  'notice.workflow.acceptFailed.2':
    'The {view:notice.vessel} recording failed the quality check ' +
    '({check1:notice.workflow.check}, {check2:notice.workflow.check}) and cannot be accepted. ' +
    'Retake it.',
  'notice.workflow.acceptFailed.3':
    'The {view:notice.vessel} recording failed the quality check ' +
    '({check1:notice.workflow.check}, {check2:notice.workflow.check}, ' +
    '{check3:notice.workflow.check}) and cannot be accepted. Retake it.',
  'notice.workflow.acceptFailed.4':
    'The {view:notice.vessel} recording failed the quality check ' +
    '({check1:notice.workflow.check}, {check2:notice.workflow.check}, ' +
    '{check3:notice.workflow.check}, {check4:notice.workflow.check}) and cannot be accepted. ' +
    'Retake it.',
  'notice.workflow.closeMissing.1':
    'Case {caseId} cannot be closed: the view {view1:notice.vessel} is not accepted yet. ' +
    'Record and accept it first.',
  'notice.workflow.closeMissing.2':
    'Case {caseId} cannot be closed: the views {view1:notice.vessel}, {view2:notice.vessel} ' +
    'are not accepted yet. Record and accept them first.',
  'notice.workflow.closeMissing.3':
    'Case {caseId} cannot be closed: the views {view1:notice.vessel}, {view2:notice.vessel}, ' +
    '{view3:notice.vessel} are not accepted yet. Record and accept them first.',
  'notice.workflow.closeMissing.4':
    'Case {caseId} cannot be closed: the views {view1:notice.vessel}, {view2:notice.vessel}, ' +
    '{view3:notice.vessel}, {view4:notice.vessel} are not accepted yet. Record and accept ' +
    'them first.',
  'notice.workflow.noEstimate':
    'Case {caseId} cannot be closed: it has no estimate. Retake a view to estimate again.',
  'notice.workflow.noEstimateReason':
    'Case {caseId} cannot be closed: it has no estimate. {reason} Retake a view to estimate ' +
    'again.',
  'notice.workflow.discarded': 'The {view:notice.vessel} recording was discarded.',
  'notice.workflow.interrupted':
    'The {view:notice.vessel} recording was interrupted by a restart. Record it again.',
  'notice.workflow.estimateFailed': 'No estimate from the accepted views: {reason}',
  'notice.workflow.cancelled': 'The {view:notice.vessel} recording was cancelled.',

  // Invalid operator input.
  'notice.workflow.unknownView': 'Unknown view {view}: expected one of {views}.',
  'notice.workflow.invalidSeed': 'Invalid seed ({x}, {y}): expected pixel coordinates.',
  'notice.workflow.seedOutside':
    'Invalid seed ({x}, {y}): it lies outside the {width}×{height} video frame. Give x ' +
    '0–{maxX} and y 0–{maxY} pixels, or leave the seed out.',
  'notice.workflow.invalidOption.range':
    'Invalid {field:notice.workflow.option} {value}: expected a number {min}–{max} ' +
    '{unit:notice.workflow.unit}.',
  'notice.workflow.invalidOption.rangeAbove':
    'Invalid {field:notice.workflow.option} {value}: expected a number above {min} and at most ' +
    '{max} {unit:notice.workflow.unit}.',
  'notice.workflow.durationTooShort':
    'Invalid durationS {durationS}: the quality check needs at least {minDurationS} s for this ' +
    'view. Record for {minDurationS} s or longer.',
  'notice.workflow.notRecordable.no-signal':
    'Cannot record the {view:notice.vessel} view: there is no video signal. Check the video ' +
    'cable from the scanner, then record again.',
  'notice.workflow.notRecordable.frozen':
    'Cannot record the {view:notice.vessel} view: the scanner image is frozen. Unfreeze the ' +
    'scanner, then record again.',
  'notice.workflow.notRecordable.blank':
    'Cannot record the {view:notice.vessel} view: the scanner image is blank. Check the ' +
    'scanner screen, then record again.',
  'notice.workflow.notRecordable.error':
    'Cannot record the {view:notice.vessel} view: video capture failed. Wait until the status ' +
    'shows a live image, then record again.',
  'notice.workflow.notRecordable.stopped':
    'Cannot record the {view:notice.vessel} view: video capture is stopped. Wait until the ' +
    'status shows a live image, then record again.',
  'notice.workflow.invalidCaseId':
    'Invalid case id {caseId}: use 1–64 letters, digits, ".", "-" or "_" (a study code, never ' +
    'a name or MRN).',
  'notice.workflow.invalidHemoglobin':
    'Invalid hemoglobin "{value}": expected a number in g/dL, above 0 and at most {max}.',

  // Field errors of the workflow API.
  'notice.workflow.field.required.range':
    'required, a number {min}–{max} {unit:notice.workflow.unit}',
  'notice.workflow.field.expected.range':
    'expected a number {min}–{max} {unit:notice.workflow.unit}',
  'notice.workflow.field.required.rangeAbove':
    'required, a number above {min} and at most {max} {unit:notice.workflow.unit}',
  'notice.workflow.field.expected.rangeAbove':
    'expected a number above {min} and at most {max} {unit:notice.workflow.unit}',
  'notice.workflow.field.required.caseId':
    'required, 1–64 letters, digits, ".", "-" or "_" (a study code)',
  'notice.workflow.field.expected.caseId':
    'expected 1–64 letters, digits, ".", "-" or "_" (a study code)',
  'notice.workflow.field.required.sex': 'required, "female" or "male"',
  'notice.workflow.field.expected.sex': 'expected "female" or "male"',
  'notice.workflow.field.required.view': 'required, one of {views}',
  'notice.workflow.field.expected.view': 'expected one of {views}',
  'notice.workflow.field.required.pixels': 'required, a number of pixels, 0 or more',
  'notice.workflow.field.expected.pixels': 'expected a number of pixels, 0 or more',

  // Quality issues of a recording.
  'notice.workflow.quality.frameSizeChanged':
    'The video size changed from {fromWidth}x{fromHeight} to {toWidth}x{toHeight} during the ' +
    '{view:notice.vessel} recording. Leave the scanner settings as they are while recording, ' +
    'then record again.',
  'notice.workflow.quality.noFrameFor':
    'No video frame arrived for {timeoutS} s during the {view:notice.vessel} recording. Check ' +
    'that the scanner is on and its video cable is connected, then record again.',
  'notice.workflow.quality.noFrameBeforeStop':
    'No video frame arrived before the {view:notice.vessel} recording was stopped. Check that ' +
    'the scanner is on and its video cable is connected, then record again.',
  'notice.workflow.quality.vesselNotFound':
    'No vessel found in the {view:notice.vessel} recording. Centre the vessel in the image, or ' +
    'tap the middle of its lumen to mark it, then record again.',
  'notice.workflow.quality.vesselLost':
    'The {view:notice.vessel} lumen was lost in more than half of the frames. Hold the probe ' +
    'still over the vessel, or tap the middle of its lumen to mark it, then record again.',
  'notice.workflow.quality.seedOutsideImage':
    'The point marked for the {view:notice.vessel} lumen is outside the image. Tap inside the ' +
    'image.',
  'notice.workflow.quality.analysisFailed':
    'Analysis of the {view:notice.vessel} recording failed: {reason}',
  'notice.workflow.quality.noPulsation':
    'No heart-rate pulsation was found in the {view:notice.vessel} lumen, so the tracked ' +
    'vessel is probably not the carotid artery. Centre the carotid artery without pressing on ' +
    'it, or tap the middle of its lumen to mark it, then record again.',
  'notice.workflow.quality.state.no-signal':
    'During the {view:notice.vessel} recording the video signal was lost. Check the video ' +
    'cable, then record again.',
  'notice.workflow.quality.state.frozen':
    'During the {view:notice.vessel} recording the scanner image froze. Unfreeze the scanner, ' +
    'then record again.',
  'notice.workflow.quality.state.blank':
    'During the {view:notice.vessel} recording the scanner image went blank. Check the scanner ' +
    'screen, then record again.',
  'notice.workflow.quality.state.error':
    'During the {view:notice.vessel} recording video capture failed. Wait until the status ' +
    'shows a live image, then record again.',
  'notice.workflow.quality.state.stopped':
    'During the {view:notice.vessel} recording video capture stopped. Wait until the status ' +
    'shows a live image, then record again.',
  'notice.workflow.quality.tooShort':
    'The {view:notice.vessel} recording lasted {durationS} s; at least {minDurationS} s is ' +
    'needed. Record again and let it run to the end.',
  'notice.workflow.quality.frozenFor':
    'The image did not change for {frozenS} s of the {view:notice.vessel} recording, so the ' +
    'scanner looks frozen. Unfreeze the scanner and record again.',
  'notice.workflow.quality.probeMoved':
    'The image changed during the {view:notice.vessel} recording, as if the probe was lifted ' +
    'or moved to other anatomy. Hold the probe still on the vessel and record again.',
  'notice.workflow.quality.imageShifted':
    'The image moved by {percent} % of its size during the {view:notice.vessel} recording. ' +
    'Hold the probe still on the vessel and record again.',

  // Case list and label entry (src/http/cases.ts).
  'notice.cases.unknownCase': 'No scan is stored under case id {caseId}. Check the id.',
  'notice.cases.field.days.number': 'expected a number of days',
  'notice.cases.field.days.whole': 'expected a whole number of days',
  'notice.cases.field.days.min': 'expected at least 1 day',
  'notice.cases.field.days.max': 'expected at most {max} days',
  'notice.cases.field.number': 'expected a number',
  'notice.cases.field.numberIn': 'expected a number in {unit}',
  'notice.cases.field.above': 'expected above {min} {unit}',
  'notice.cases.field.atLeast': 'expected at least {min} {unit}',
  'notice.cases.field.atMost': 'expected at most {max} {unit}',
  'notice.cases.field.enteredBy': 'expected the name or login of the coordinator',
  'notice.cases.field.hbRange': 'expected {min}–{max} g/dL',
  'notice.cases.field.hbRangeConverted': 'expected {min}–{max} {unit} ({minGdl}–{maxGdl} g/dL)',
  'notice.cases.field.hbAfterBelow':
    'expected below hbBefore, because hemodilution lowers hemoglobin',
  'notice.cases.field.withdrawnOrBags': 'give either withdrawnMl or bags, not both or neither',

  // MRN entry (src/hl7/routes.ts).
  'notice.hl7.field.caseId': 'expected 1 to 64 letters, digits, ".", "_" or "-"',
  'notice.hl7.field.mrn':
    'expected 1 to 20 letters, digits, ".", "_", "/" or "-", starting with a letter or digit',
  'notice.hl7.invalidCaseId':
    'Invalid case id in the path: expected 1 to 64 letters, digits, ".", "_" or "-".',
  'notice.hl7.caseNotOpen':
    'Case {caseId} is not the open case. Enter the MRN after opening the case and before ' +
    'closing it.',

  // The app's own routes (src/http/app.ts).
  'notice.http.noMetrics': 'No metrics are collected.',
  'notice.http.noRoute': 'No route {path}.',
  'notice.http.noFrame': 'No frame to show yet: capture has no frame or no image area.',
} as const;

const ZH_CN: Record<keyof typeof EN, string> = {
  'notice.workflow.action.openCase': '建立病例',
  'notice.workflow.action.recordView': '采集切面',
  'notice.workflow.action.acceptView': '采用切面',
  'notice.workflow.action.retakeView': '重新采集切面',
  'notice.workflow.action.closeCase': '结束病例',
  'notice.workflow.action.abandonCase': '放弃病例',
  'notice.workflow.option.depthCm': '成像深度',
  'notice.workflow.option.mmPerPixel': '像素间距',
  'notice.workflow.option.durationS': '采集时长',
  'notice.workflow.unit.cm': 'cm',
  'notice.workflow.unit.kg': 'kg',
  'notice.workflow.unit.years': '岁',
  'notice.workflow.unit.mm': 'mm',
  'notice.workflow.unit.s': 's',
  'notice.workflow.unit.g/dL': 'g/dL',
  'notice.workflow.caseStatus.stored': '已保存',
  'notice.workflow.caseStatus.open': '进行中',
  'notice.workflow.caseStatus.closed': '已结束',
  'notice.workflow.check.too_short': '录像过短',
  'notice.workflow.check.frozen': '图像冻结',
  'notice.workflow.check.probe_moved': '探头移动',
  'notice.workflow.check.no_signal': '无视频信号',
  'notice.workflow.check.source_not_live': '采集未就绪',
  'notice.workflow.check.frame_size_changed': '视频尺寸改变',
  'notice.workflow.check.vessel_not_found': '未找到血管',
  'notice.workflow.check.vessel_lost': '丢失血管',
  'notice.workflow.check.seed_outside_frame': '标记点位于图像外',
  'notice.workflow.check.no_pulsation': '未检测到搏动',
  'notice.workflow.check.analysis_failed': '分析失败',

  'notice.workflow.busy.recording': '正在采集{view:notice.vessel}切面。请停止采集或等待采集结束。',
  'notice.workflow.busy.analysing': '正在分析{view:notice.vessel}切面的录像。请等待质量检查完成。',
  'notice.workflow.busy.review': '{view:notice.vessel}切面的录像等待确认。请先采用或重新采集。',
  'notice.workflow.busy.idle': '当前没有正在采集或等待确认的录像。',
  'notice.workflow.notNow.recording':
    '现在无法{action:notice.workflow.action}。正在采集{view:notice.vessel}切面。请停止采集或' +
    '等待采集结束。',
  'notice.workflow.notNow.analysing':
    '现在无法{action:notice.workflow.action}。正在分析{view:notice.vessel}切面的录像。请等待' +
    '质量检查完成。',
  'notice.workflow.notNow.review':
    '现在无法{action:notice.workflow.action}。{view:notice.vessel}切面的录像等待确认。请先采用' +
    '或重新采集。',
  'notice.workflow.notNow.idle':
    '现在无法{action:notice.workflow.action}。当前没有正在采集或等待确认的录像。',
  'notice.workflow.nothingToRetake.recording':
    '没有可重新采集的录像：正在采集{view:notice.vessel}切面。请停止采集或等待采集结束。',
  'notice.workflow.nothingToRetake.analysing':
    '没有可重新采集的录像：正在分析{view:notice.vessel}切面的录像。请等待质量检查完成。',
  'notice.workflow.nothingToRetake.review':
    '没有可重新采集的录像：{view:notice.vessel}切面的录像等待确认。请先采用或重新采集。',
  'notice.workflow.nothingToRetake.idle':
    '没有可重新采集的录像：当前没有正在采集或等待确认的录像。',

  'notice.workflow.stopped': '无法{action:notice.workflow.action}：工作流程已停止。',
  'notice.workflow.noCase': '无法{action:notice.workflow.action}：没有进行中的病例。请先建立病例。',
  'notice.workflow.noReview': '无法{action:notice.workflow.action}：没有等待确认的录像。',
  'notice.workflow.noCaseOpen': '没有进行中的病例。请先建立病例并采集切面。',
  'notice.workflow.notRecording': '当前没有正在进行的采集。请先开始采集。',
  'notice.workflow.caseOpen': '病例 {caseId} 尚未结束。请先结束或放弃该病例，再建立新病例。',
  'notice.workflow.caseExists':
    '病例 {caseId} 已存在（{status:notice.workflow.caseStatus}）。已保存的病例不会被覆盖；' +
    '请使用新的病例编号建立病例。',
  'notice.workflow.acceptFailed.1':
    '{view:notice.vessel}切面的录像未通过质量检查（{check1:notice.workflow.check}），不能采用。' +
    '请重新采集。',
  'notice.workflow.acceptFailed.2':
    '{view:notice.vessel}切面的录像未通过质量检查（{check1:notice.workflow.check}、' +
    '{check2:notice.workflow.check}），不能采用。请重新采集。',
  'notice.workflow.acceptFailed.3':
    '{view:notice.vessel}切面的录像未通过质量检查（{check1:notice.workflow.check}、' +
    '{check2:notice.workflow.check}、{check3:notice.workflow.check}），不能采用。请重新采集。',
  'notice.workflow.acceptFailed.4':
    '{view:notice.vessel}切面的录像未通过质量检查（{check1:notice.workflow.check}、' +
    '{check2:notice.workflow.check}、{check3:notice.workflow.check}、' +
    '{check4:notice.workflow.check}），不能采用。请重新采集。',
  'notice.workflow.closeMissing.1':
    '病例 {caseId} 无法结束：{view1:notice.vessel}切面尚未采用。请先采集并采用该切面。',
  'notice.workflow.closeMissing.2':
    '病例 {caseId} 无法结束：{view1:notice.vessel}、{view2:notice.vessel}切面尚未采用。' +
    '请先采集并采用这些切面。',
  'notice.workflow.closeMissing.3':
    '病例 {caseId} 无法结束：{view1:notice.vessel}、{view2:notice.vessel}、' +
    '{view3:notice.vessel}切面尚未采用。请先采集并采用这些切面。',
  'notice.workflow.closeMissing.4':
    '病例 {caseId} 无法结束：{view1:notice.vessel}、{view2:notice.vessel}、' +
    '{view3:notice.vessel}、{view4:notice.vessel}切面尚未采用。请先采集并采用这些切面。',
  'notice.workflow.noEstimate':
    '病例 {caseId} 无法结束：尚无估计值。请重新采集一个切面以重新估计。',
  'notice.workflow.noEstimateReason':
    '病例 {caseId} 无法结束：尚无估计值。{reason}请重新采集一个切面以重新估计。',
  'notice.workflow.discarded': '{view:notice.vessel}切面的录像已丢弃。',
  'notice.workflow.interrupted': '{view:notice.vessel}切面的采集因重启而中断。请重新采集。',
  'notice.workflow.estimateFailed': '已接受的切面未能得出估计值（{reason}）。',
  'notice.workflow.cancelled': '{view:notice.vessel}切面的采集已取消。',

  'notice.workflow.unknownView': '未知切面 {view}：应为 {views} 之一。',
  'notice.workflow.invalidSeed': '标记点（{x}, {y}）无效：应为像素坐标。',
  'notice.workflow.seedOutside':
    '标记点（{x}, {y}）无效：位于 {width}×{height} 视频画面之外。请给出 x 为 0–{maxX}、' +
    'y 为 0–{maxY} 像素的位置，或不标记。',
  'notice.workflow.invalidOption.range':
    '{field:notice.workflow.option} {value} 无效：应为 {min}–{max} ' +
    '{unit:notice.workflow.unit} 的数值。',
  'notice.workflow.invalidOption.rangeAbove':
    '{field:notice.workflow.option} {value} 无效：应为大于 {min} 且不超过 {max} ' +
    '{unit:notice.workflow.unit} 的数值。',
  'notice.workflow.durationTooShort':
    '采集时长 {durationS} s 无效：该切面的质量检查至少需要 {minDurationS} s。请采集 ' +
    '{minDurationS} s 或更长时间。',
  'notice.workflow.notRecordable.no-signal':
    '无法采集{view:notice.vessel}切面：无视频信号。请检查超声仪的视频线，然后重新采集。',
  'notice.workflow.notRecordable.frozen':
    '无法采集{view:notice.vessel}切面：超声仪图像已冻结。请解除冻结，然后重新采集。',
  'notice.workflow.notRecordable.blank':
    '无法采集{view:notice.vessel}切面：超声仪图像为空白。请检查超声仪屏幕，然后重新采集。',
  'notice.workflow.notRecordable.error':
    '无法采集{view:notice.vessel}切面：视频采集失败。请等待状态显示实时图像，然后重新采集。',
  'notice.workflow.notRecordable.stopped':
    '无法采集{view:notice.vessel}切面：视频采集已停止。请等待状态显示实时图像，然后重新采集。',
  'notice.workflow.invalidCaseId':
    '病例编号 {caseId} 无效：请使用 1–64 个字母、数字、“.”、“-”或“_”（研究编号，不得使用姓名' +
    '或病历号）。',
  'notice.workflow.invalidHemoglobin':
    '血红蛋白“{value}”无效：应为以 g/dL 为单位、大于 0 且不超过 {max} 的数值。',

  'notice.workflow.field.required.range': '必填，{min}–{max} {unit:notice.workflow.unit} 的数值',
  'notice.workflow.field.expected.range': '应为 {min}–{max} {unit:notice.workflow.unit} 的数值',
  'notice.workflow.field.required.rangeAbove':
    '必填，大于 {min} 且不超过 {max} {unit:notice.workflow.unit} 的数值',
  'notice.workflow.field.expected.rangeAbove':
    '应为大于 {min} 且不超过 {max} {unit:notice.workflow.unit} 的数值',
  'notice.workflow.field.required.caseId': '必填，1–64 个字母、数字、“.”、“-”或“_”（研究编号）',
  'notice.workflow.field.expected.caseId': '应为 1–64 个字母、数字、“.”、“-”或“_”（研究编号）',
  'notice.workflow.field.required.sex': '必填，女或男',
  'notice.workflow.field.expected.sex': '应为女或男',
  'notice.workflow.field.required.view': '必填，应为 {views} 之一',
  'notice.workflow.field.expected.view': '应为 {views} 之一',
  'notice.workflow.field.required.pixels': '必填，不小于 0 的像素数',
  'notice.workflow.field.expected.pixels': '应为不小于 0 的像素数',

  'notice.workflow.quality.frameSizeChanged':
    '采集{view:notice.vessel}切面期间，视频尺寸由 {fromWidth}x{fromHeight} 变为 ' +
    '{toWidth}x{toHeight}。采集时请勿更改超声仪设置，然后重新采集。',
  'notice.workflow.quality.noFrameFor':
    '采集{view:notice.vessel}切面期间 {timeoutS} s 内未收到视频帧。请确认超声仪已开机且视频线' +
    '已连接，然后重新采集。',
  'notice.workflow.quality.noFrameBeforeStop':
    '{view:notice.vessel}切面的采集停止前未收到任何视频帧。请确认超声仪已开机且视频线已连接，' +
    '然后重新采集。',
  'notice.workflow.quality.vesselNotFound':
    '{view:notice.vessel}切面的录像中未找到血管。请将血管置于图像中央，或点击其管腔中心进行' +
    '标记，然后重新采集。',
  'notice.workflow.quality.vesselLost':
    '超过一半的帧中丢失了{view:notice.vessel}管腔。请将探头稳定于血管上方，或点击其管腔中心' +
    '进行标记，然后重新采集。',
  'notice.workflow.quality.seedOutsideImage':
    '为{view:notice.vessel}管腔标记的点位于图像外。请在图像内点击。',
  'notice.workflow.quality.analysisFailed': '{view:notice.vessel}切面的录像分析失败：{reason}',
  'notice.workflow.quality.noPulsation':
    '{view:notice.vessel}管腔中未检测到心跳搏动，所跟踪的血管可能不是颈总动脉。请将颈总动脉' +
    '置于图像中央且勿按压，或点击其管腔中心进行标记，然后重新采集。',
  'notice.workflow.quality.state.no-signal':
    '采集{view:notice.vessel}切面期间视频信号丢失。请检查视频线，然后重新采集。',
  'notice.workflow.quality.state.frozen':
    '采集{view:notice.vessel}切面期间超声仪图像冻结。请解除冻结，然后重新采集。',
  'notice.workflow.quality.state.blank':
    '采集{view:notice.vessel}切面期间超声仪图像变为空白。请检查超声仪屏幕，然后重新采集。',
  'notice.workflow.quality.state.error':
    '采集{view:notice.vessel}切面期间视频采集失败。请等待状态显示实时图像，然后重新采集。',
  'notice.workflow.quality.state.stopped':
    '采集{view:notice.vessel}切面期间视频采集停止。请等待状态显示实时图像，然后重新采集。',
  'notice.workflow.quality.tooShort':
    '{view:notice.vessel}切面的录像仅 {durationS} s，至少需要 {minDurationS} s。请重新采集，' +
    '并等待采集自动结束。',
  'notice.workflow.quality.frozenFor':
    '{view:notice.vessel}切面的录像中图像有 {frozenS} s 未变化，超声仪似乎已冻结。请解除冻结，' +
    '然后重新采集。',
  'notice.workflow.quality.probeMoved':
    '采集{view:notice.vessel}切面期间图像发生变化，探头可能被抬起或移至其他部位。请将探头稳定' +
    '于血管上，然后重新采集。',
  'notice.workflow.quality.imageShifted':
    '采集{view:notice.vessel}切面期间图像移动了其尺寸的 {percent}%。请将探头稳定于血管上，' +
    '然后重新采集。',

  'notice.cases.unknownCase': '没有以病例编号 {caseId} 保存的扫描。请核对编号。',
  'notice.cases.field.days.number': '应为天数',
  'notice.cases.field.days.whole': '应为整数天数',
  'notice.cases.field.days.min': '应至少为 1 天',
  'notice.cases.field.days.max': '应不超过 {max} 天',
  'notice.cases.field.number': '应为数值',
  'notice.cases.field.numberIn': '应为以 {unit} 为单位的数值',
  'notice.cases.field.above': '应大于 {min} {unit}',
  'notice.cases.field.atLeast': '应不小于 {min} {unit}',
  'notice.cases.field.atMost': '应不超过 {max} {unit}',
  'notice.cases.field.enteredBy': '请填写研究协调员的姓名或登录名',
  'notice.cases.field.hbRange': '应为 {min}–{max} g/dL',
  'notice.cases.field.hbRangeConverted': '应为 {min}–{max} {unit}（{minGdl}–{maxGdl} g/dL）',
  'notice.cases.field.hbAfterBelow': '应低于采血前血红蛋白，因为血液稀释会降低血红蛋白',
  'notice.cases.field.withdrawnOrBags': '请填写采血量或血袋其中一项，不能两项都填或都不填',

  'notice.hl7.field.caseId': '应为 1–64 个字母、数字、“.”、“_”或“-”',
  'notice.hl7.field.mrn': '应为 1–20 个字母、数字、“.”、“_”、“/”或“-”，并以字母或数字开头',
  'notice.hl7.invalidCaseId': '路径中的病例编号无效：应为 1–64 个字母、数字、“.”、“_”或“-”。',
  'notice.hl7.caseNotOpen':
    '病例 {caseId} 不是当前进行中的病例。请在建立病例之后、结束病例之前录入病历号。',

  'notice.http.noMetrics': '未收集运行指标。',
  'notice.http.noRoute': '不存在路径 {path}。',
  'notice.http.noFrame': '暂无可显示的画面：采集尚无图像帧或未识别到图像区域。',
};

export const WORKFLOW_NOTICES = { en: EN, 'zh-CN': ZH_CN };
