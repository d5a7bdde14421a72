"""The demo campaigns: realistic Indonesian community campaigns, in Indonesian."""
from __future__ import annotations

# (organizer e-mail, status, category, region, city, title, goal in rupiah, days to deadline,
#  beneficiary, story in Markdown, updates as (title, body)). A "closed" campaign is published first,
#  takes its gifts and pays them out, and is closed with its final update (FINAL_UPDATES) at the end.
CAMPAIGNS = [
    ("budi.santoso@amanah.test", "published", "health", "34", "Kabupaten Sleman",
     "Timbangan dan alat ukur baru untuk Posyandu Melati, Sleman", 18_500_000, 45,
     "Sekitar 90 balita dan 25 ibu hamil di Dusun Krapyak, Kalurahan Wedomartani.",
     """Posyandu Melati di Dusun Krapyak, Kabupaten Sleman, buka setiap Selasa kedua. Para kader
menimbang, mengukur, dan mencatat tumbuh kembang hampir 90 balita. Timbangan dacin yang kami
pakai sudah berumur lebih dari sepuluh tahun, dan alat ukur panjang badan sering meleset.

Dengan data yang tidak akurat, tanda-tanda *stunting* bisa terlambat terlihat. Kami ingin
membeli:

- dua timbangan digital bayi dan satu timbangan dewasa,
- satu *infantometer* dan satu *stadiometer*,
- buku KIA cadangan dan bahan makanan tambahan (PMT) untuk tiga bulan.

Semua belanja akan dicatat bendahara dengan nota, dan laporannya kami unggah di halaman ini.
Terima kasih atas kepedulian Anda untuk anak-anak Krapyak.""",
     [("Timbangan digital sudah dipesan", "Berkat donasi pekan pertama, dua timbangan digital bayi "
       "sudah kami pesan dari toko alat kesehatan di Kota Yogyakarta. Notanya menyusul."),
      ("Posyandu bulan ini", "Sebanyak **84 balita** ditimbang bulan ini. Terima kasih kepada para "
       "kader yang datang sejak pukul tujuh pagi.")]),
    ("rina.wulandari@amanah.test", "published", "education", "53", "Kabupaten Kupang",
     "Taman baca untuk anak-anak nelayan di Pantai Oesapa, NTT", 35_000_000, 60,
     "Sekitar 70 anak usia 5-14 tahun di kampung nelayan Oesapa.",
     """Di kampung nelayan Oesapa, banyak anak belum lancar membaca meski sudah kelas empat. Tidak ada
perpustakaan yang dekat, dan buku cerita anak hampir tidak ada di rumah-rumah warga.

Relawan kami, sebagian besar mahasiswa dari Kupang, ingin mengubah sebuah rumah panggung milik
warga menjadi **taman baca masyarakat** yang buka setiap sore. Dana akan dipakai untuk:

1. rak buku, tikar, dan lampu tenaga surya,
2. 600 buku cerita anak berbahasa Indonesia dan buku dwibahasa Dawan,
3. honor kecil untuk dua relawan pendamping selama satu tahun.

Kami akan mengabarkan perkembangan taman baca ini, termasuk jumlah anak yang datang setiap
minggu.""",
     [("Rak pertama berdiri", "Bapak-bapak nelayan bergotong royong membuat dua rak dari kayu bekas "
       "perahu. Anak-anak sudah tidak sabar menunggu bukunya datang.")]),
    ("budi.santoso@amanah.test", "published", "economy", "73", "Kabupaten Bulukumba",
     "Modal bergulir Koperasi Nelayan Bahari Tanjung Bira, Sulawesi Selatan", 120_000_000, 90,
     "42 anggota koperasi nelayan dan keluarganya di Desa Bira.",
     """Koperasi Nelayan Bahari beranggotakan 42 nelayan kecil di Tanjung Bira. Selama ini banyak
anggota meminjam kepada tengkulak untuk membeli jaring dan solar, dengan bunga yang mencekik dan
kewajiban menjual hasil tangkapan dengan harga murah.

Kami ingin membangun **dana modal bergulir** yang dikelola koperasi secara terbuka. Setiap
anggota dapat meminjam untuk alat tangkap, lalu mengembalikan secara mencicil tanpa bunga;
cicilan itu dipinjamkan lagi kepada anggota lain.

Selain modal, sebagian dana akan dipakai untuk satu *cool box* besar dan pelatihan pembukuan
sederhana bagi pengurus. Laporan pinjaman dan pengembalian akan kami umumkan setiap triwulan.""",
     [("Rapat anggota", "Rapat anggota menyepakati aturan pinjaman: paling banyak Rp 3.000.000 per "
       "orang, dicicil dalam sepuluh bulan.")]),
    ("rina.wulandari@amanah.test", "published", "digital", "31", "Jakarta Timur",
     "Kelas literasi digital untuk lansia di Duren Sawit", 12_000_000, 40,
     "60 warga lanjut usia di RW 07 Duren Sawit.",
     """Banyak orang tua di lingkungan kami kesulitan memakai ponsel pintar: dari mendaftar layanan
kesehatan daring, membuka aplikasi bank, hingga mengenali pesan penipuan.

Kami akan menyelenggarakan **kelas literasi digital** dua kali seminggu selama tiga bulan di balai
RW. Satu relawan muda mendampingi dua peserta, dengan materi:

- memakai WhatsApp dan panggilan video dengan keluarga,
- mendaftar antrean puskesmas dan layanan publik daring,
- mengenali penipuan, tautan palsu, dan menjaga kode OTP.

Dana dipakai untuk sewa proyektor, kuota internet, modul cetak berhuruf besar, dan konsumsi
peserta.""", []),
    ("budi.santoso@amanah.test", "published", "culture", "51", "Kabupaten Gianyar",
     "Gamelan dan kostum untuk Sanggar Tari Cahya Kumara, Gianyar", 45_000_000, 75,
     "35 anak dan remaja penari sanggar di Desa Batuan.",
     """Sanggar Tari Cahya Kumara mengajar tari Bali kepada anak-anak Desa Batuan tanpa memungut
biaya. Setiap Minggu sore, balai banjar penuh dengan anak yang belajar tari Pendet dan Baris.

Gamelan yang kami pakai adalah pinjaman dan sebagian bilahnya sudah retak. Kostum tari pun harus
bergantian dipakai. Kami ingin membeli satu set **gamelan gong kebyar** bekas yang masih baik,
memperbaiki kendang, dan menjahit kostum baru.

Dengan alat sendiri, sanggar dapat tampil di upacara desa dan festival kabupaten, sekaligus
melestarikan seni yang diwariskan para tetua kami.""",
     [("Latihan untuk Pesta Kesenian", "Anak-anak sedang berlatih untuk tampil di pawai Pesta "
       "Kesenian Bali. Doakan kami!")]),
    ("rina.wulandari@amanah.test", "published", "social", "33", "Kota Semarang",
     "Dapur umum dan pendampingan lansia sebatang kara di Semarang Utara", 30_000_000, 50,
     "28 lansia yang tinggal sendiri di Kelurahan Tanjung Mas.",
     """Di Kelurahan Tanjung Mas, banjir rob datang hampir setiap bulan. Sebagian lansia tinggal
sendiri, tanpa keluarga yang dekat, dan sering tidak makan teratur ketika air masuk rumah.

Relawan kami memasak di **dapur umum** setiap hari dan mengantar makanan ke 28 lansia. Kami juga
mendampingi mereka ke puskesmas dan membantu mengurus bantuan sosial.

Dana akan dipakai untuk bahan makanan selama empat bulan, gas elpiji, wadah makanan yang bisa
dipakai ulang, serta transportasi relawan.""",
     [("Seratus hari dapur umum", "Dapur umum sudah berjalan seratus hari. Terima kasih kepada ibu-ibu "
       "PKK yang bergantian memasak.")]),
    ("budi.santoso@amanah.test", "published", "health", "94", "Kabupaten Jayapura",
     "Klinik keliling untuk kampung-kampung di pesisir Danau Sentani", 75_000_000, 100,
     "Warga di delapan kampung pesisir Danau Sentani, sekitar 2.400 jiwa.",
     """Warga kampung di pinggir Danau Sentani harus menyeberang dengan perahu untuk mencapai
puskesmas. Ketika cuaca buruk, ibu hamil dan anak yang sakit sering tidak bisa berangkat.

Bersama perawat dan bidan setempat, kami menjalankan **klinik keliling** dengan perahu motor dua
kali sebulan: pemeriksaan ibu hamil, imunisasi lanjutan, dan pengobatan dasar.

Dana dipakai untuk perawatan mesin perahu, bahan bakar selama enam bulan, tas obat-obatan dasar,
dan pelampung untuk petugas.""", []),
    ("rina.wulandari@amanah.test", "published", "education", "61", "Kabupaten Sanggau",
     "Bimbingan belajar gratis bagi anak-anak perbatasan di Entikong", 22_000_000, 55,
     "50 siswa SD dan SMP di Kecamatan Entikong.",
     """Entikong berbatasan langsung dengan Malaysia. Banyak anak membantu orang tua berkebun sepulang
sekolah dan tertinggal pelajaran matematika serta membaca.

Guru-guru muda di kecamatan ini membuka **bimbingan belajar gratis** tiga sore seminggu. Kami
butuh dukungan untuk buku latihan, papan tulis, lampu, dan honor pengajar.

Setiap semester kami akan membagikan hasil asesmen membaca dan berhitung anak-anak, agar
perkembangan mereka bisa dilihat oleh semua donatur.""", []),
    ("budi.santoso@amanah.test", "published", "economy", "35", "Kabupaten Malang",
     "Pelatihan pengemasan dan pemasaran daring untuk UMKM keripik tempe Sanan", 16_000_000, 35,
     "25 perajin keripik tempe skala rumah tangga di Sanan.",
     """Kampung Sanan terkenal dengan keripik tempenya, tetapi banyak perajin rumah tangga masih
menjual dalam plastik polos tanpa label dan hanya kepada pengepul.

Kami akan mengadakan **pelatihan UMKM** selama enam pertemuan: izin PIRT, desain label,
pengemasan yang tahan lama, foto produk dengan ponsel, dan berjualan di lapak daring.

Dana dipakai untuk narasumber, mesin *sealer* bersama, contoh kemasan, dan pendampingan
pendaftaran izin.""", []),
    ("rina.wulandari@amanah.test", "published", "culture", "11", "Kota Banda Aceh",
     "Renovasi balai pengajian dan perpustakaan meunasah Gampong Lampulo", 55_000_000, 80,
     "Sekitar 120 santri anak dan remaja di Gampong Lampulo.",
     """Meunasah Gampong Lampulo menjadi tempat anak-anak mengaji setiap sore dan tempat warga
bermusyawarah. Atap balai pengajian bocor dan lantainya rusak sejak beberapa tahun lalu.

Kami ingin **merenovasi balai pengajian** dan menambah sebuah perpustakaan kecil berisi buku
agama, sejarah Aceh, dan bacaan anak.

Pekerjaan dilakukan secara gotong royong oleh warga; dana dipakai untuk bahan bangunan, rak buku,
dan pembelian buku.""", []),
    ("budi.santoso@amanah.test", "published", "digital", "72", "Kabupaten Donggala",
     "Internet desa dan pojok belajar daring di Desa Loli Oge, Donggala", 40_000_000, 70,
     "Siswa, perangkat desa, dan pelaku usaha di Desa Loli Oge.",
     """Sinyal di Desa Loli Oge lemah sejak gempa dan tsunami 2018. Siswa harus naik ke bukit untuk
mengirim tugas, dan pelaku usaha kecil sulit menerima pesanan.

Kami akan memasang **akses internet bersama** di balai desa, lengkap dengan perangkat jaringan,
panel surya cadangan, dan empat komputer bekas yang diperbaiki untuk pojok belajar.

Warga muda yang sudah kami latih akan menjaga pojok ini dan membuka kelas komputer dasar setiap
Sabtu.""",
     [("Survei lokasi selesai", "Teknisi sudah memeriksa titik pemasangan antena di atap balai desa. "
       "Pemasangan dijadwalkan bulan depan.")]),
    ("rina.wulandari@amanah.test", "published", "social", "32", "Kota Bandung",
     "Kursi roda dan terapi untuk anak-anak dengan disabilitas di Bandung", 48_000_000, 65,
     "18 anak dengan disabilitas fisik dari keluarga prasejahtera.",
     """Komunitas orang tua anak berkebutuhan khusus di Bandung saling menguatkan sejak 2019. Banyak
anak belum punya kursi roda yang sesuai ukuran tubuhnya, sehingga sulit bersekolah.

Kami ingin menyediakan **kursi roda yang disesuaikan** untuk 18 anak dan membiayai sesi
fisioterapi rutin bersama terapis relawan.

Setiap kursi roda dipesan sesuai ukuran anak dari bengkel lokal; kami akan membagikan cerita
anak-anak penerimanya dengan izin orang tua.""", []),
    ("budi.santoso@amanah.test", "published", "health", "18", "Kabupaten Lampung Selatan",
     "Air bersih untuk Sekolah Dasar di Ketapang, Lampung Selatan", 27_000_000, 30,
     "310 siswa dan guru SD Negeri di Kecamatan Ketapang.",
     """Sumur sekolah kami payau dan keruh. Anak-anak tidak bisa mencuci tangan dengan layak, dan
toilet sering tidak dapat dipakai.

Kami akan membangun **sumur bor dengan penyaring air** dan tempat cuci tangan bersama, lalu
melatih murid menjadi duta kebersihan.

Perhitungan biaya dibuat bersama tukang setempat dan akan kami tampilkan lengkap beserta notanya.""",
     []),
    ("budi.santoso@amanah.test", "draft", "education", "34", "Kota Yogyakarta",
     "Kelas menulis untuk remaja kampung Code", 9_000_000, 90,
     "30 remaja di bantaran Kali Code.",
     """Remaja di bantaran Kali Code punya banyak cerita tentang kampungnya. Kami ingin mengajak mereka
menulis, menyunting, dan menerbitkan buku kumpulan cerita.

Draf ini masih kami lengkapi sebelum diajukan.""", []),
    ("rina.wulandari@amanah.test", "submitted", "economy", "52", "Kabupaten Lombok Timur",
     "Rumah produksi tenun ikat perempuan Pringgasela", 60_000_000, 85,
     "40 penenun perempuan di Desa Pringgasela.",
     """Para penenun di Pringgasela menenun di teras rumah masing-masing dan menjual kain lewat
perantara. Kami ingin membangun **rumah produksi bersama** dengan alat tenun yang lebih baik.

Dengan tempat bersama, para penenun dapat berbagi pewarna alami, menjaga mutu, dan menjual
langsung kepada pembeli.""", []),
    ("rina.wulandari@amanah.test", "closed", "social", "33", "Kabupaten Demak",
     "Paket sembako dan obat untuk warga terdampak banjir di Karanganyar, Demak", 6_000_000, 20,
     "120 keluarga di tiga dusun Kecamatan Karanganyar yang rumahnya terendam.",
     """Tanggul Sungai Wulan jebol dan air merendam tiga dusun di Kecamatan Karanganyar selama
hampir dua minggu. Banyak keluarga kehilangan persediaan makanan dan tidak bisa bekerja.

Karang taruna desa mendata **120 keluarga** yang paling membutuhkan. Kami ingin membagikan satu
paket untuk setiap keluarga:

- beras 5 kg, minyak goreng, gula, dan telur,
- obat-obatan dasar untuk demam, diare, dan gatal kulit dari apotek setempat.

Paket dibagikan di balai desa dengan daftar penerima yang ditandatangani. Nota pembelian akan
dicatat bendahara di halaman ini.""",
     [("Pembelian tahap pertama", "Beras dan minyak untuk 80 paket sudah dibeli dari UD Sumber "
       "Rejeki. Pembagian pertama dilakukan Sabtu pagi di balai desa.")]),
]

# The closed campaign's last word: posted when it closes, after its money was paid out.
# title -> (update title, update body, the reason given for closing)
FINAL_UPDATES = {
    "Paket sembako dan obat untuk warga terdampak banjir di Karanganyar, Demak": (
        "Laporan akhir: 120 paket sudah sampai",
        "Seluruh **120 paket** sembako dan obat sudah dibagikan kepada keluarga yang terdata. Daftar "
        "penerima yang ditandatangani kepala dusun tersimpan di kantor desa.\n\n"
        "Dana yang terkumpul dipakai untuk beras, minyak, gula, telur, dan obat; nota setiap belanja "
        "tercatat di bagian pengeluaran halaman ini dan di buku besar publik. Penggalangan dana kami "
        "tutup karena kebutuhan sudah terpenuhi. Terima kasih kepada semua donatur.",
        "Target tercapai dan seluruh paket sudah dibagikan."),
}
