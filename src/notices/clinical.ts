/**
 * Notices of the clinical subsystem: the study-population reasons of an estimate
 * (src/clinical/population.ts, src/scan/scan.ts), the warnings and validation errors of ANH
 * labels (src/clinical/anh.ts) and of their entry (src/store/labels.ts).
 */
const EN = {
  'notice.population.ageMissing': 'age not entered; cannot confirm {min}–{max} years',
  'notice.population.ageInvalid': 'age {value} is not a number; cannot confirm {min}–{max} years',
  'notice.population.ageOutside': 'age {value} years is outside {min}–{max} years',
  'notice.population.bmiOutside': 'BMI {value} kg/m² is outside {min}–{max} kg/m²',
  'notice.population.hbMissing': 'preoperative Hb not entered; cannot confirm ≥ {min} g/dL',
  'notice.population.hbInvalid':
    'preoperative Hb {value} is not a number; cannot confirm ≥ {min} g/dL',
  'notice.population.hbBelow': 'preoperative Hb {value} g/dL is below {min} g/dL',
  'notice.population.featuresOutside':
    'view features outside the training cohort (largest |z| {value}, limit {limit}): the model extrapolates',
  'notice.population.notChecked':
    'population not checked: estimate stored before the check existed',

  'notice.anh.hbLooksLikeGdl':
    '{field:notice.anh.field} {value} mmol/L ({gdl} g/dL) is above {limit} mmol/L and looks like ' +
    'a value in g/dL. Check the Hb unit and enter the record again if it is wrong.',
  'notice.anh.hbRare':
    '{field:notice.anh.field} {value} g/dL is above {limit} g/dL, which is rare. Check the value ' +
    'and the Hb unit.',
  'notice.anh.hbRareConverted':
    '{field:notice.anh.field} {value} {unit} ({gdl} g/dL) is above {limit} g/dL, which is rare. ' +
    'Check the value and the Hb unit.',
  'notice.anh.equilibrationMissing':
    'equilibration time not entered; cannot confirm the site minimum of {min} min.',
  'notice.anh.equilibrationShort':
    'equilibration time {value} min is shorter than the site minimum of {min} min, so hbAfter ' +
    'may not have stabilised.',
  'notice.anh.bleeding':
    'bleeding {value} mL between the samples is counted as blood lost. Measured surgical loss is ' +
    'imprecise, so the label is less certain.',
  'notice.anh.replacementMissing':
    'replacement volume not entered; cannot confirm normovolemia at the second sample.',
  'notice.anh.replacementShort':
    'replacement {value} mL is less than the losses of {losses} mL (withdrawn, bleeding and ' +
    'urine), so the patient may be hypovolemic at the second sample and the label may ' +
    'overestimate BV.',
  'notice.anh.bagHbNotComputed': 'bag-hemoglobin label not computed: {fields} not entered.',

  'notice.anh.unitInvalid': 'Invalid hbUnit "{value}": expected one of {units}.',
  'notice.anh.notNumber':
    'Invalid {field:notice.anh.field} {value}: expected a finite number in {unit}.',
  'notice.anh.outside':
    'Invalid {field:notice.anh.field} {value} {unit}: expected {min}–{max} {unit}.',
  'notice.anh.outsideExclusive':
    'Invalid {field:notice.anh.field} {value} {unit}: expected more than {min} and at most ' +
    '{max} {unit}.',
  'notice.anh.hbOutsideConverted':
    'Invalid {field:notice.anh.field} {value} {unit}: expected {min}–{max} {unit} ' +
    '({minGdl}–{maxGdl} g/dL).',
  'notice.anh.hbNotLower':
    'Invalid hbAfter {after} {unit}: expected less than hbBefore {before} {unit}, because ' +
    'hemodilution lowers Hb. Check that the two samples were not swapped.',
  'notice.anh.withdrawalBoth': 'Invalid withdrawal: give withdrawnMl or bags, not both.',
  'notice.anh.bagsRequired':
    "Missing bags: the bag-hemoglobin method needs each bag's gross volume (mL) and Hb; give " +
    'bags in place of withdrawnMl.',
  'notice.anh.withdrawnMissing':
    'Missing withdrawnMl: give the blood withdrawn in mL net of anticoagulant, or the bags.',
  'notice.anh.bagsEmpty':
    'Missing bags: the bag list is empty; give at least one bag or withdrawnMl.',
  'notice.anh.bagBelowAnticoagulant':
    'Invalid {field} {value} mL: expected more than the {anticoagulant} mL of anticoagulant per ' +
    'bag, because it is the gross volume.',
  'notice.anh.bagHbMissing':
    'Missing {field}: the bag-hemoglobin method needs the Hb of every bag, in {unit}.',
  'notice.anh.bagHbMissingNoUnit':
    'Missing {field}: the bag-hemoglobin method needs the Hb of every bag, in the record hbUnit.',
  'notice.anh.bagHbRequired': 'Missing bag Hb: the bag-hemoglobin method needs it.',
  'notice.anh.labelOutside':
    'The {method:notice.anh.method} label comes out at {value} mL, outside {min}–{max} mL: ' +
    'check Hb before, Hb after and the withdrawn volume.',
  'notice.anh.methodUnknown': 'Unknown ANH method "{value}": expected one of {methods}.',

  'notice.anh.method.single-step': 'single-step',
  'notice.anh.method.continuous-exchange': 'continuous-exchange',
  'notice.anh.method.bag-hemoglobin': 'bag-hemoglobin',
  'notice.anh.field.hbBefore': 'hbBefore',
  'notice.anh.field.hbAfter': 'hbAfter',
  'notice.anh.field.withdrawnMl': 'withdrawnMl',
  'notice.anh.field.bagsNetMl': 'withdrawn volume (bags net of anticoagulant)',
  'notice.anh.field.anticoagulantMlPerBag': 'anticoagulantMlPerBag',
  'notice.anh.field.bleedingMl': 'bleedingMl',
  'notice.anh.field.replacementVolumeMl': 'replacementVolumeMl',
  'notice.anh.field.urineOutputMl': 'urineOutputMl',
  'notice.anh.field.equilibrationMinutes': 'equilibrationMinutes',
  'notice.anh.field.minEquilibrationMinutes': 'minEquilibrationMinutes',

  'notice.label.revisionChange':
    'BV {value} mL is {percent} % {direction:notice.label.direction} the {previous} mL of ' +
    'revision {revision}. Check the values and the Hb unit against the anaesthesia record.',
  'notice.label.direction.above': 'above',
  'notice.label.direction.below': 'below',
  'notice.label.enteredByInvalid':
    'Invalid enteredBy {value}: expected the name or login of the person entering the label, ' +
    '1–{max} printable characters.',
  'notice.label.caseUnknown':
    'Unknown case id {value}: no scan is stored under it. Check the id against the scan ' +
    'summary, or scan the patient first.',
} as const;

const ZH_CN: Record<keyof typeof EN, string> = {
  'notice.population.ageMissing': '未输入年龄，无法确认在 {min}–{max} 岁之间',
  'notice.population.ageInvalid': '年龄 {value} 不是数字，无法确认在 {min}–{max} 岁之间',
  'notice.population.ageOutside': '年龄 {value} 岁不在 {min}–{max} 岁之间',
  'notice.population.bmiOutside': 'BMI {value} kg/m² 不在 {min}–{max} kg/m² 之间',
  'notice.population.hbMissing': '未输入术前血红蛋白，无法确认 ≥ {min} g/dL',
  'notice.population.hbInvalid': '术前血红蛋白 {value} 不是数字，无法确认 ≥ {min} g/dL',
  'notice.population.hbBelow': '术前血红蛋白 {value} g/dL 低于 {min} g/dL',
  'notice.population.featuresOutside':
    '切面特征超出训练队列范围（最大 |z| {value}，上限 {limit}）：模型在外推',
  'notice.population.notChecked': '未检查研究人群：此估计值保存于该检查启用之前',

  'notice.anh.hbLooksLikeGdl':
    '{field:notice.anh.field} {value} mmol/L（{gdl} g/dL）高于 {limit} mmol/L，疑似按 g/dL ' +
    '录入。请核对血红蛋白单位，如有误请重新录入。',
  'notice.anh.hbRare':
    '{field:notice.anh.field} {value} g/dL 高于 {limit} g/dL，较为少见。请核对数值及血红蛋白单位。',
  'notice.anh.hbRareConverted':
    '{field:notice.anh.field} {value} {unit}（{gdl} g/dL）高于 {limit} g/dL，较为少见。' +
    '请核对数值及血红蛋白单位。',
  'notice.anh.equilibrationMissing': '未输入平衡时间，无法确认达到本院最短 {min} min。',
  'notice.anh.equilibrationShort':
    '平衡时间 {value} min 短于本院最短 {min} min，平衡后血红蛋白可能尚未稳定。',
  'notice.anh.bleeding':
    '两次采样之间的出血量 {value} mL 已计入失血量。术中失血量测量不精确，此标签的可信度较低。',
  'notice.anh.replacementMissing': '未输入补液量，无法确认第二次采样时血容量正常。',
  'notice.anh.replacementShort':
    '补液量 {value} mL 少于丢失量 {losses} mL（采血量、出血量及尿量），第二次采样时患者' +
    '可能血容量不足，标签可能高估血容量。',
  'notice.anh.bagHbNotComputed': '未计算血袋血红蛋白法标签：未输入 {fields}。',

  'notice.anh.unitInvalid': '血红蛋白单位“{value}”无效：应为 {units} 之一。',
  'notice.anh.notNumber': '{field:notice.anh.field} {value} 无效：应为以 {unit} 为单位的有限数值。',
  'notice.anh.outside':
    '{field:notice.anh.field} {value} {unit} 无效：应在 {min}–{max} {unit} 之间。',
  'notice.anh.outsideExclusive':
    '{field:notice.anh.field} {value} {unit} 无效：应大于 {min} 且不超过 {max} {unit}。',
  'notice.anh.hbOutsideConverted':
    '{field:notice.anh.field} {value} {unit} 无效：应在 {min}–{max} {unit}' +
    '（{minGdl}–{maxGdl} g/dL）之间。',
  'notice.anh.hbNotLower':
    '平衡后血红蛋白 {after} {unit} 无效：应低于采血前血红蛋白 {before} {unit}，因为血液稀释' +
    '会降低血红蛋白。请检查两份样本是否录反。',
  'notice.anh.withdrawalBoth':
    '采血记录无效：请只填写采血量（withdrawnMl）或血袋（bags）其中之一。',
  'notice.anh.bagsRequired':
    '缺少血袋：血袋血红蛋白法需要每袋的总容量（mL）和血红蛋白；请填写血袋（bags），' +
    '不填采血量（withdrawnMl）。',
  'notice.anh.withdrawnMissing': '缺少采血量：请填写扣除抗凝剂后的采血量（mL），或填写血袋。',
  'notice.anh.bagsEmpty': '缺少血袋：血袋列表为空；请至少填写一袋，或填写采血量。',
  'notice.anh.bagBelowAnticoagulant':
    '{field} {value} mL 无效：此为总容量，应大于每袋 {anticoagulant} mL 的抗凝剂量。',
  'notice.anh.bagHbMissing': '缺少 {field}：血袋血红蛋白法需要每袋的血红蛋白，单位为 {unit}。',
  'notice.anh.bagHbMissingNoUnit':
    '缺少 {field}：血袋血红蛋白法需要每袋的血红蛋白，单位与记录的血红蛋白单位相同。',
  'notice.anh.bagHbRequired': '缺少血袋血红蛋白：血袋血红蛋白法需要此值。',
  'notice.anh.labelOutside':
    '{method:notice.anh.method}标签计算结果为 {value} mL，超出 {min}–{max} mL：请核对采血前' +
    '血红蛋白、平衡后血红蛋白和采血量。',
  'notice.anh.methodUnknown': '未知的 ANH 计算方法“{value}”：应为 {methods} 之一。',

  'notice.anh.method.single-step': '单步法',
  'notice.anh.method.continuous-exchange': '连续置换法',
  'notice.anh.method.bag-hemoglobin': '血袋血红蛋白法',
  'notice.anh.field.hbBefore': '采血前血红蛋白',
  'notice.anh.field.hbAfter': '平衡后血红蛋白',
  'notice.anh.field.withdrawnMl': '采血量',
  'notice.anh.field.bagsNetMl': '采血量（各血袋扣除抗凝剂后）',
  'notice.anh.field.anticoagulantMlPerBag': '每袋抗凝剂量',
  'notice.anh.field.bleedingMl': '术中出血量',
  'notice.anh.field.replacementVolumeMl': '补液量',
  'notice.anh.field.urineOutputMl': '尿量',
  'notice.anh.field.equilibrationMinutes': '平衡时间',
  'notice.anh.field.minEquilibrationMinutes': '最短平衡时间',

  'notice.label.revisionChange':
    '血容量 {value} mL 比第 {revision} 版的 {previous} mL {direction:notice.label.direction} ' +
    '{percent}%。请对照麻醉记录核对各数值及血红蛋白单位。',
  'notice.label.direction.above': '高',
  'notice.label.direction.below': '低',
  'notice.label.enteredByInvalid':
    '录入人 {value} 无效：应为录入此标签人员的姓名或登录名，1–{max} 个可打印字符。',
  'notice.label.caseUnknown':
    '未知的病例编号 {value}：未保存此编号的扫描。请对照扫描摘要核对编号，或先为患者扫描。',
};

export const CLINICAL_NOTICES = { en: EN, 'zh-CN': ZH_CN };
